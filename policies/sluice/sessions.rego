# How long a JIT session may sit idle. A group may set session_idle_timeout_seconds in
# data.sluice.groups; a caller in several groups gets the shortest (the strictest). Without
# one, data.sluice.session applies.
package sluice

group_idle_timeouts contains seconds if {
	some group in caller_groups
	seconds := data.sluice.groups[group].session_idle_timeout_seconds
}

session_settings := {"idle_timeout_seconds": min(group_idle_timeouts)} if {
	count(group_idle_timeouts) > 0
} else := data.sluice.session
