# Keyword and regex blocks, kept as data (data.sluice.library.blocks): a match refuses the call
# with the block's own reason. Keywords match case-insensitively as substrings; patterns use
# RE2 syntax restricted to shapes that stay linear in a backtracking engine too (see
# text_rules.rego: the gateway matches them before evaluation). Groups in exempt_groups skip
# the blocks, e.g. a red team.
package sluice

block_config := data.sluice.library.blocks

text_keywords contains lower(entry.keyword) if some entry in block_config.keywords

text_patterns contains entry.regex if some entry in block_config.patterns

block_exempt if {
	some group in caller_groups
	group in block_config.exempt_groups
}

violations contains {"check": "block", "reason": entry.reason} if {
	not block_exempt
	some entry in block_config.keywords
	keyword_in_prompt(entry.keyword)
}

violations contains {"check": "block", "reason": entry.reason} if {
	not block_exempt
	some entry in block_config.patterns
	pattern_in_prompt(entry.regex)
}
