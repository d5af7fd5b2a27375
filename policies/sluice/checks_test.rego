package sluice_test

import data.sluice

reasons(groups, request) := r if {
	r := {v.reason | some v in sluice.violations} with input as request_by(groups, request)
}

test_engineering_may_use_sonnet_with_its_skills_and_tools if {
	count(reasons(["engineering"], {"skills": [skill("pdf")], "tools": [tool("web_search")]})) == 0
}

test_no_known_group if {
	reasons(["contractors"], {}) == {"no group of yours grants access"}
}

test_unknown_operation if {
	reasons(["admins"], {"operation": "files.upload"}) == {`operation "files.upload" is not handled by this policy`}
	`operation "(none)" is not handled by this policy` in {v.reason | some v in sluice.violations} with input as {"identity": {"groups": ["admins"]}, "connection": "anthropic"}
}

test_connection_not_granted if {
	count(reasons(["ci"], {"operation": "models.list"})) == 0
	r := {v.reason | some v in sluice.violations} with input as object.union(request_by(["ci"], {"model": "claude-haiku-4-5"}), {"connection": "bedrock"})
	r == {`connection "bedrock" is not allowed for your groups (ci)`}
}

test_model_not_granted if {
	reasons(["ci"], {"model": "claude-sonnet-4-5", "max_tokens": 1024}) == {`model "claude-sonnet-4-5" is not allowed for your groups (ci)`}
	reasons(["ci"], {"model": null, "max_tokens": 1024}) == {"the request names no model"}
}

test_skill_not_granted if {
	reasons(["engineering"], {"skills": [skill("pdf"), skill("pptx")]}) == {`skill "pptx" is not allowed for your groups (engineering)`}
	reasons(["ci"], {"model": "claude-haiku-4-5", "max_tokens": 1024, "skills": [skill("pdf")]}) == {`skill "pdf" is not allowed for your groups (ci)`}
	count(reasons(["admins"], {"skills": [skill("skill_01AbCd")]})) == 0
}

test_tool_not_granted if {
	reasons(["engineering"], {"tools": [tool("bash"), tool("computer")]}) == {`tool "computer" is not allowed for your groups (engineering)`}
	reasons(["ci"], {"model": "claude-haiku-4-5", "max_tokens": 1024, "tools": [tool("bash")]}) == {`tool "bash" is not allowed for your groups (ci)`}
}

test_max_tokens_above_ceiling if {
	reasons(["engineering"], {"max_tokens": 100000}) == {"max_tokens 100000 exceeds your limit of 8192"}
	count(reasons(["engineering"], {"max_tokens": 8192})) == 0
	count(reasons(["engineering", "admins"], {"max_tokens": 64000})) == 0
}

test_read_only_operations_skip_the_ceilings if {
	count(reasons(["ci"], {"operation": "models.get", "model": "claude-opus-4-1"})) == 0
	count(reasons(["ci"], {"operation": "messages.count_tokens", "model": "claude-opus-4-1", "max_tokens": null})) == 0
	reasons([], {"operation": "models.list"}) == {"no group of yours grants access"}
}

test_every_violation_is_reported if {
	count(reasons(["ci"], {"max_tokens": 100000, "skills": [skill("pdf")], "tools": [tool("bash")]})) == 4
}
