package sluice_test

import data.sluice

test_text_rules_list_every_lower_cased_term if {
	sluice.text_rules.keywords == {"project nightingale", "production credentials", "customer database export", "wire transfer"}
	sluice.text_rules.patterns == {
		`(?i)\b[a-z0-9-]{1,63}\.corp\.example\.com\b`,
		`(?i)\b(?:https?|ftps?|wss?)://`,
		`(?i)\b(?:curl|wget|nc|netcat)\s`,
	}
}

# What the gateway passes when it matched the terms itself: rules trust text_matches, not the text.
test_gateway_matches_decide_over_the_text if {
	found := {"keywords": ["project nightingale"], "patterns": [`(?i)\b[a-z0-9-]{1,63}\.corp\.example\.com\b`]}
	r := reasons(["engineering"], {"text": "nothing to see", "text_matches": found})
	r == {"the prompt names Project Nightingale, an embargoed codename", "the prompt contains an internal hostname (*.corp.example.com)"}
}

test_empty_gateway_matches_skip_the_rego_scan if {
	r := reasons(["engineering"], {"text": "project nightingale", "text_matches": {"keywords": [], "patterns": []}})
	count(r) == 0
}

test_gateway_keyword_match_requires_an_approval if {
	d := sluice.decision with input as request_by(["engineering"], {"text": "", "text_matches": {"keywords": ["wire transfer"], "patterns": []}})
	d.approval.reason == "the prompt mentions wire transfer"
}
