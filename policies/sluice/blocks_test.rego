package sluice_test

import data.sluice

test_keyword_blocks_case_insensitively if {
	r := reasons(["engineering"], {"text": "Status of PROJECT Nightingale?"})
	r == {"the prompt names Project Nightingale, an embargoed codename"}
}

test_pattern_blocks_with_its_reason if {
	d := sluice.decision with input as request_by(["admins"], {"text": "ssh to db-01.CORP.example.com please"})
	d.allow == false
	d.reasons == ["the prompt contains an internal hostname (*.corp.example.com)"]
	"block" in d.labels.checks
}

test_ordinary_text_passes if {
	count(reasons(["engineering"], {"text": "nightingales sing at corp.example.org"})) == 0
}

test_exempt_groups_skip_blocks if {
	i := request_by(["admins"], {"text": "project nightingale on x.corp.example.com"})
	count({v | some v in sluice.violations; v.check == "block"}) == 0 with input as i with data.sluice.library.blocks.exempt_groups as ["admins"]
	count({v | some v in sluice.violations; v.check == "block"}) == 2 with input as i
}
