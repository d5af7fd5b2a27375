package sluice_test

import data.sluice

test_large_prompt_needs_an_approval if {
	d := sluice.decision with input as request_by(["ci"], {"model": "claude-haiku-4-5", "estimated_input_tokens": 60000, "text": "x"})
	d.allow == true
	d.approval.required == true
	d.approval.reason == "the prompt is about 60000 tokens, above the 50000 your groups may send without approval"
	"token_size" in d.labels.approval_rules
}

test_prompt_at_the_threshold_passes if {
	d := sluice.decision with input as request_by(["ci"], {"model": "claude-haiku-4-5", "estimated_input_tokens": 50000})
	not d.approval
}

test_the_largest_threshold_of_the_groups_applies if {
	sluice.token_approval_threshold == 100000 with input as request_by(["ci", "engineering"], {})
	not sluice.token_approval_threshold with input as request_by(["admins"], {})
	d := sluice.decision with input as request_by(["admins"], {"estimated_input_tokens": 900000})
	not d.approval
}
