package sluice_test

import data.sluice

with_grants(groups, conn, grants) := object.union(request_by(groups, {}), {"connection": conn, "session": {"id": "ses_1", "age_seconds": 1, "idle_seconds": 0, "requests": 1, "grants": grants}})

test_a_grant_is_required_on_listed_connections if {
	d := sluice.decision with input as with_grants(["engineering"], "secondary", []) with data.sluice.access_grants.required_connections as ["secondary"]
	d.allow == false
	d.reasons == [`connection "secondary" needs an approved access grant: request one with POST /sluice/api/grants`]
}

test_an_active_grant_admits if {
	d := sluice.decision with input as with_grants(["engineering"], "secondary", ["secondary"]) with data.sluice.access_grants.required_connections as ["secondary"]
	d.allow == true
}

test_unlisted_connections_need_no_grant if {
	d := sluice.decision with input as with_grants(["engineering"], "anthropic", []) with data.sluice.access_grants.required_connections as ["secondary"]
	d.allow == true
}
