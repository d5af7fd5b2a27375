package sluice_test

import data.sluice

at(now, groups, scopes) := object.union(request_by(groups, {}), {"now": now, "identity": {"sub": "alice", "iss": "https://idp.example", "groups": groups, "scopes": scopes}})

hours_reasons(now, groups, scopes) := r if {
	r := {v.reason | some v in sluice.violations; v.check == "hours"} with input as at(now, groups, scopes)
		with data.sluice.library.hours.groups as ["ci"]
}

test_weekday_and_minute_from_rfc3339 if {
	# 2025-06-02 is a Monday; 1970-01-01 a Thursday; 2024-02-29 a Thursday.
	sluice.local_time == {"weekday": 1, "minute": 545} with input as {"now": "2025-06-02T09:05:59.123Z"}
	sluice.local_time == {"weekday": 4, "minute": 0} with input as {"now": "1970-01-01T00:00:00Z"}
	sluice.local_time.weekday == 4 with input as {"now": "2024-02-29T23:59:00Z"}
}

test_offset_moves_the_day if {
	# Monday 02:00 UTC is Sunday 21:00 at UTC-5.
	sluice.local_time == {"weekday": 0, "minute": 1260} with input as {"now": "2025-06-02T02:00:00Z"} with data.sluice.library.hours.utc_offset_minutes as -300
}

test_restricted_group_inside_hours_passes if {
	count(hours_reasons("2025-06-02T09:00:00Z", ["ci"], [])) == 0
}

test_restricted_group_outside_hours_is_refused if {
	hours_reasons("2025-06-02T19:00:00Z", ["ci"], []) == {"outside business hours for your groups; use the break-glass scope in an emergency"}
	count(hours_reasons("2025-06-01T10:00:00Z", ["ci"], [])) == 1 # a Sunday
	count(hours_reasons("2025-06-02T07:59:00Z", ["ci"], [])) == 1
}

test_break_glass_scope_bypasses_hours if {
	count(hours_reasons("2025-06-01T03:00:00Z", ["ci"], ["sluice:break-glass"])) == 0
}

test_a_member_of_an_unrestricted_group_is_not_restricted if {
	count(hours_reasons("2025-06-01T03:00:00Z", ["ci", "engineering"], [])) == 0
}

test_unreadable_time_fails_closed if {
	count(hours_reasons("yesterday", ["ci"], [])) == 1
}

test_no_group_is_restricted_by_default if {
	count({v | some v in sluice.violations; v.check == "hours"}) == 0 with input as at("2025-06-01T03:00:00Z", ["ci"], [])
}
