# What the caller's groups grant. Groups, and what each allows, live in data.sluice.groups
# (policies/sluice/data.json). A caller in several groups gets the union of their grants;
# groups the policy does not know grant nothing.
package sluice

# The caller's groups that appear in data.sluice.groups.
caller_groups contains group if {
	some group in input.identity.groups
	data.sluice.groups[group]
}

# For reasons shown to the caller: which of their groups were considered.
caller_groups_text := concat(", ", sort(caller_groups)) if count(caller_groups) > 0

else := "none"

# True when a pattern in the `field` list of any of the caller's groups matches `name`.
granted(field, name) if {
	some group in caller_groups
	some pattern in data.sluice.groups[group][field]
	pattern_matches(pattern, name)
}

# A pattern is an exact name, or a prefix followed by "*" ("claude-haiku-*"; "*" alone matches
# everything). Prefix matching, not glob.match: in WASM glob.match compiles a regular expression
# on every evaluation, which was most of the policy's cost per request.
pattern_matches(pattern, name) if pattern == name

pattern_matches(pattern, name) if {
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

# The largest max_tokens any of the caller's groups allows (undefined without a known group).
max_tokens_ceiling := max({n | some group in caller_groups; n := data.sluice.groups[group].max_tokens})
