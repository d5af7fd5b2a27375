# Usage budgets the allow carries in limits.budgets (gateway/usage): the gateway reserves each
# call's estimated tokens and cost against every one of them before it goes upstream and settles
# to the real usage after; a call that does not fit is refused with 429. Keys are built here, so
# one call can count against its caller's, its team's and its workload's budget at once.
package sluice

# The caller's own budget: the most generous one among its groups (by tokens, then the longer
# window), so a person in two groups gets one budget, not the sum of two.
subject_budget := {"window": best[1], "tokens": best[0]} if {
	specs := [[spec.tokens, window_seconds(spec.window), spec.window] |
		some group in caller_groups
		spec := data.sluice.budgets.subject[group]
	]
	count(specs) > 0
	top := max(specs)
	best := [top[0], top[2]]
}

# A window's length in seconds, to rank windows: a named one, or the number of seconds itself (a
# window with no rank would drop its budget from the comprehension above, so the budget would vanish).
window_seconds(window) := window if is_number(window)

window_seconds(window) := {"minute": 60, "hour": 3600, "day": 86400, "month": 2678400}[window] if is_string(window)

call_budgets contains object.union({"key": concat(":", ["subject", input.identity.sub])}, subject_budget) if subject_budget

# Each team (group) with a budget of its own: every member's calls count against it.
call_budgets contains object.union({"key": concat(":", ["group", group])}, data.sluice.budgets.group[group]) if {
	some group in caller_groups
	data.sluice.budgets.group[group]
}

# A CI workload's budget per repository (issuers that pass the `repository` claim).
call_budgets contains object.union(
	{"key": concat(":", ["repo", input.identity.claims.repository])},
	data.sluice.budgets.workload,
) if {
	is_string(input.identity.claims.repository)
	data.sluice.budgets.workload
}
