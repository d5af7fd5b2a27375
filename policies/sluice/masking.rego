# What is masked, decided per caller: data.sluice.masking.rules name entity types to mask in the
# request (before it goes upstream) and in the response (before the caller gets it), for the
# groups, connections and models they match. The gateway detects; this policy only decides.
package sluice

# A rule matches when each of its groups/connections/models lists (default ["*"]) matches.
masking_rule_applies(rule) if {
	some pattern in object.get(rule, "groups", ["*"])
	some group in caller_groups
	pattern_matches(pattern, group)
	some conn in object.get(rule, "connections", ["*"])
	pattern_matches(conn, input_connection)
	some model in object.get(rule, "models", ["*"])
	pattern_matches(model, request_model)
}

# The matching rules, found by index: a set of numbers, not of rule objects, because the WASM
# evaluator hashes a set's whole element on every insert and lookup (13% of an evaluation).
matching_rule_indexes contains i if {
	some i, rule in data.sluice.masking.rules
	masking_rule_applies(rule)
}

masking_rules := [data.sluice.masking.rules[i] | some i in matching_rule_indexes]

# Entity type names with set names (data.sluice.masking.entity_sets, e.g. "CREDENTIALS") expanded.
mask_types(direction) := {t |
	some rule in masking_rules
	some name in object.get(rule, direction, [])
	some t in object.get(data.sluice.masking.entity_sets, name, [name])
}

# The most protective style any matching rule asks for: hash, then placeholder, then partial.
mask_style := style if {
	styles := {s | some rule in masking_rules; s := object.get(rule, "style", data.sluice.masking.style)}
	style := [s | some s in ["hash", "placeholder", "partial"]; s in styles][0]
} else := data.sluice.masking.style

# Placeholders are restored for the caller only when every matching rule allows it.
default mask_restore := false

mask_restore if {
	count(masking_rules) > 0
	every rule in masking_rules {
		object.get(rule, "restore", data.sluice.masking.restore) == true
	}
}

mask := {
	"request": sort(mask_types("request")),
	"response": sort(mask_types("response")),
	"style": mask_style,
	"restore": mask_restore,
}

# Some findings are never forwarded, masked or not (a private key in a prompt): the call is denied.
violations contains {"check": "findings", "reason": $"the prompt contains {finding}, which may not be sent to Claude"} if {
	some finding in data.sluice.masking.deny_on_findings
	object.get(request_findings, finding, 0) > 0
}
