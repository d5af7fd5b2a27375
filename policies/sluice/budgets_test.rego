package sluice_test

import data.sluice

test_engineering_counts_against_its_own_and_its_team_budget if {
	d := sluice.decision with input as request_by(["engineering"], {})
	d.limits.budgets == [
		{"key": "group:engineering", "window": "month", "cost_usd": 10000},
		{"key": "subject:alice", "window": "day", "tokens": 20000000},
	]
}

test_a_person_in_two_groups_gets_the_most_generous_subject_budget if {
	d := sluice.decision with input as request_by(["ci", "admins"], {})
	{"key": "subject:alice", "window": "day", "tokens": 50000000} in d.limits.budgets
	count([b | some b in d.limits.budgets; startswith(b.key, "subject:")]) == 1
}

test_equal_tokens_prefer_the_longer_window if {
	subject := {"ci": {"window": "hour", "tokens": 10}, "engineering": {"window": "day", "tokens": 10}}
	budgets := sluice.call_budgets with input as request_by(["ci", "engineering"], {})
		with data.sluice.budgets.subject as subject
		with data.sluice.budgets.group as {}
	budgets == {{"key": "subject:alice", "window": "day", "tokens": 10}}
}

test_a_ci_workload_counts_against_its_repository if {
	ci := object.union(request_by(["ci"], {}), {"identity": {
		"sub": "github:repo:acme/app:environment:prod",
		"iss": "https://token.actions.githubusercontent.com",
		"groups": ["ci"], "scopes": [], "claims": {"repository": "acme/app"},
	}})
	budgets := sluice.call_budgets with input as ci
	{"key": "repo:acme/app", "window": "day", "tokens": 5000000, "requests": 20000} in budgets
}

test_no_budget_without_a_group_that_has_one if {
	budgets := sluice.call_budgets with input as request_by(["guests"], {})
	budgets == set()
	not sluice.subject_budget with input as request_by(["guests"], {})
}

test_listings_and_counts_carry_no_budget if {
	d := sluice.decision with input as request_by(["engineering"], {"operation": "models.list", "model": null, "max_tokens": null})
	not d.limits.budgets
}

test_a_subject_budget_with_a_window_in_seconds_applies if {
	subject := {"ci": {"window": 2, "tokens": 1000}}
	budgets := sluice.call_budgets with input as request_by(["ci"], {})
		with data.sluice.budgets.subject as subject
		with data.sluice.budgets.group as {}
	budgets == {{"key": "subject:alice", "window": 2, "tokens": 1000}}
}

test_a_window_in_seconds_ranks_by_its_length if {
	subject := {"ci": {"window": 7200, "tokens": 10}, "engineering": {"window": "hour", "tokens": 10}}
	budgets := sluice.call_budgets with input as request_by(["ci", "engineering"], {})
		with data.sluice.budgets.subject as subject
		with data.sluice.budgets.group as {}
	budgets == {{"key": "subject:alice", "window": 7200, "tokens": 10}}
}
