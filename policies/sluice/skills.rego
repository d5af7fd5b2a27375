# Custom skills (the Skills API). Uploading a skill or a new version of one (skills.create,
# skills.versions.create) is judged on what the gateway read of it: input.skill {name,
# description, display_title, directory, size_bytes, files [{path, size_bytes, sha256,
# media_type, text}]}, the text of its text files (SKILL.md, scripts) as input.request.text, and
# the entities found there in input.request.findings. A skill runs code in Claude's container:
# one that reaches out to the network or carries a credential is refused, with the reason.
package sluice

skill_upload_operations := {"skills.create", "skills.versions.create"}

# Patterns (RE2 syntax, linear shapes: see text_rules.rego) searched for in a skill's text files.
text_patterns contains entry.regex if some entry in data.sluice.skills.blocked_patterns

violations contains {"check": "skill_content", "reason": $"skill \"{input.skill.name}\" is refused: {entry.reason}"} if {
	input.request.operation in skill_upload_operations
	some entry in data.sluice.skills.blocked_patterns
	pattern_in_prompt(entry.regex)
}

# Entity types (or sets of data.sluice.masking.entity_sets, e.g. "CREDENTIALS") a skill may not carry.
skill_blocked_entities := {t |
	some name in data.sluice.skills.blocked_entities
	some t in object.get(data.sluice.masking.entity_sets, name, [name])
}

violations contains {"check": "skill_content", "reason": $"skill \"{input.skill.name}\" is refused: it contains {type} ({n} found)"} if {
	input.request.operation in skill_upload_operations
	some type, n in input.request.findings
	type in skill_blocked_entities
	n > 0
}

# Fail closed: an upload the gateway did not describe cannot be judged.
violations contains {"check": "skill_content", "reason": "the skill upload carries no description of its files"} if {
	input.request.operation in skill_upload_operations
	not skill_described
}

skill_described if is_object(input.skill)
