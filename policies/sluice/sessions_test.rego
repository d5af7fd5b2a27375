package sluice_test

import data.sluice

test_group_idle_timeout_applies if {
	d := sluice.decision with input as request_by(["ci"], {"model": "claude-haiku-4-5"})
	d.session == {"idle_timeout_seconds": 300}
}

test_the_strictest_group_idle_timeout_wins if {
	groups := {"engineering": object.union(data.sluice.groups.engineering, {"session_idle_timeout_seconds": 600})}
	d := sluice.decision with input as request_by(["ci", "engineering"], {"model": "claude-haiku-4-5"}) with data.sluice.groups as object.union(data.sluice.groups, groups)
	d.session == {"idle_timeout_seconds": 300}
}

test_default_idle_timeout_without_a_group_setting if {
	d := sluice.decision with input as request_by(["engineering"], {})
	d.session == data.sluice.session
}
