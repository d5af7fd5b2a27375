package sluice_test

import data.sluice

test_engineering_masks_customer_data_in_requests_and_credentials_in_answers if {
	m := sluice.mask with input as request_by(["engineering"], {})
	m.request == ["CREDIT_CARD", "EMAIL", "EMPLOYEE_ID", "IBAN", "PHONE", "US_SSN"]
	"ANTHROPIC_API_KEY" in m.response
	"PRIVATE_KEY" in m.response
	not "EMAIL" in m.response
	m.style == "placeholder"
	m.restore == true
}

test_sets_expand_and_groups_combine if {
	m := sluice.mask with input as request_by(["ci", "admins"], {"model": "claude-haiku-4-5"})
	"IP_ADDRESS" in m.request
	"JWT" in m.request
	"EMAIL" in m.response
	m.restore == false # the ci rule does not allow restore
}

test_no_rule_no_mask if {
	m := sluice.mask with input as request_by(["contractors"], {})
	m == {"request": [], "response": [], "style": "placeholder", "restore": false}
}

test_rules_can_target_connections_and_models if {
	rules := [{"groups": ["*"], "connections": ["bedrock"], "models": ["claude-opus-*"], "request": ["EMAIL"], "style": "partial"}]
	m1 := sluice.mask with input as object.union(request_by(["admins"], {"model": "claude-opus-4-1"}), {"connection": "bedrock"}) with data.sluice.masking.rules as rules
	m1.request == ["EMAIL"]
	m1.style == "partial"
	m2 := sluice.mask with input as request_by(["admins"], {"model": "claude-opus-4-1"}) with data.sluice.masking.rules as rules
	m2.request == []
}

test_most_protective_style_wins if {
	rules := [{"groups": ["admins"], "style": "partial"}, {"groups": ["admins"], "style": "hash"}]
	sluice.mask_style == "hash" with input as request_by(["admins"], {}) with data.sluice.masking.rules as rules
}

test_private_key_is_denied_outright if {
	d := sluice.decision with input as request_by(["engineering"], {"findings": {"PRIVATE_KEY": 1, "EMAIL": 2}})
	d.allow == false
	d.reasons == ["the prompt contains PRIVATE_KEY, which may not be sent to Claude"]
	d.labels.checks == ["findings"]
}

test_masked_findings_are_allowed if {
	d := sluice.decision with input as request_by(["engineering"], {"findings": {"EMAIL": 2, "CREDIT_CARD": 1}})
	d.allow == true
	"EMAIL" in d.mask.request
}
