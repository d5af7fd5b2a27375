# Business hours with break-glass. Callers whose every known group is in
# data.sluice.library.hours_config.groups may call only on `weekdays` (0 = Sunday) between
# start_minute and end_minute (minutes after midnight, at utc_offset_minutes from UTC), unless
# their token carries the break-glass scope; the decision event records the scopes, so every
# break-glass call is in the audit log. Time comes from input.now (RFC 3339), since opa-wasm
# has no time builtins; an unreadable time fails closed.
package sluice

hours_config := data.sluice.library.hours

hours_restricted if {
	count(caller_groups) > 0
	every group in caller_groups {
		group in hours_config.groups
	}
	not hours_config.break_glass_scope in caller_scopes
}

# Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
days_from_civil(y0, m, d) := days if {
	y := y0 - to_number(m <= 2)
	era := floor(y / 400)
	yoe := y - (era * 400)
	doy := (floor(((153 * ((m + 9) % 12)) + 2) / 5) + d) - 1
	days := (((era * 146097) + (yoe * 365)) + ((floor(yoe / 4) - floor(yoe / 100)) + doy)) - 719468
}

time_part(now, start, length) := to_number(substring(now, start, length))

# {"weekday": 0-6, "minute": 0-1439} of input.now at the configured offset.
local_time := {"weekday": (day + 4) % 7, "minute": total - (day * 1440)} if {
	now := input.now
	regex.match(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`, now)
	days := days_from_civil(time_part(now, 0, 4), time_part(now, 5, 2), time_part(now, 8, 2))
	total := (((days * 1440) + (time_part(now, 11, 2) * 60)) + time_part(now, 14, 2)) + hours_config.utc_offset_minutes
	day := floor(total / 1440)
}

within_hours if {
	local_time.weekday in hours_config.weekdays
	local_time.minute >= hours_config.start_minute
	local_time.minute < hours_config.end_minute
}

violations contains {"check": "hours", "reason": "outside business hours for your groups; use the break-glass scope in an emergency"} if {
	hours_restricted
	not within_hours
}
