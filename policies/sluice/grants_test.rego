package sluice_test

import data.sluice

test_unknown_groups_grant_nothing if {
	count(sluice.caller_groups) == 0 with input as request_by(["contractors"], {})
	sluice.caller_groups_text == "none" with input as request_by(["contractors"], {})
}

test_known_groups_are_kept if {
	sluice.caller_groups == {"ci", "engineering"} with input as request_by(["engineering", "sales", "ci"], {})
	sluice.caller_groups_text == "ci, engineering" with input as request_by(["engineering", "sales", "ci"], {})
}

test_grant_is_the_union_of_groups if {
	sluice.granted("models", "claude-sonnet-4-5") with input as request_by(["ci", "engineering"], {})
	not sluice.granted("models", "claude-sonnet-4-5") with input as request_by(["ci"], {})
}

test_model_glob_spans_dots if {
	sluice.granted("models", "claude-3.5-sonnet") with input as request_by(["admins"], {})
	not sluice.granted("models", "gpt-4o") with input as request_by(["admins"], {})
}

test_max_tokens_ceiling_is_the_largest_of_the_groups if {
	sluice.max_tokens_ceiling == 32000 with input as request_by(["ci", "engineering"], {})
	sluice.max_tokens_ceiling == 2048 with input as request_by(["ci"], {})
	not sluice.max_tokens_ceiling with input as request_by([], {})
}

test_patterns_are_exact_names_or_prefixes if {
	sluice.pattern_matches("claude-haiku-4-5", "claude-haiku-4-5")
	sluice.pattern_matches("claude-haiku-*", "claude-haiku-4-5")
	sluice.pattern_matches("*", "anything")
	not sluice.pattern_matches("claude-haiku-4-5", "claude-haiku-4-5-20251001")
	not sluice.pattern_matches("claude-*-haiku", "claude-4-haiku")
	not sluice.pattern_matches("claude-haiku-*", "claude-sonnet-4-6")
}
