# Keyword and regex blocks, kept as data (data.sluice.library.blocks): a match refuses the call
# with the block's own reason. Keywords match case-insensitively as substrings; patterns use
# RE2 syntax (regex.match runs natively in OPA's WASM runtime). Groups in exempt_groups skip
# the blocks, e.g. a red team.
package sluice

block_config := data.sluice.library.blocks

block_exempt if {
	some group in caller_groups
	group in block_config.exempt_groups
}

violations contains {"check": "block", "reason": entry.reason} if {
	not block_exempt
	some entry in block_config.keywords
	contains(prompt_text, lower(entry.keyword))
}

violations contains {"check": "block", "reason": entry.reason} if {
	not block_exempt
	some entry in block_config.patterns
	regex.match(entry.regex, object.get(input, ["request", "text"], ""))
}
