# Text rules: the keywords and regex patterns other rules look for in the prompt text. Rule
# files add their own terms to `text_keywords` and `text_patterns`.
#
# The gateway evaluates `text_rules` once when it loads a bundle, finds the terms in each
# prompt itself (V8's string search, regexes checked for linear shapes at load) and passes what
# it found as input.request.text_matches. In WASM every keyword is a separate scan of the whole
# prompt and every regex.match compiles its RE2 program again on each evaluation, which made
# these rules most of the policy's cost. `opa test` and `opa eval` have no gateway: for them
# text_rules_fallback.rego matches the same terms in Rego. The bundle builder leaves that file
# out, so a bundle never reads the prompt text for its text rules.
package sluice

text_rules := {"keywords": text_keywords, "patterns": text_patterns}

# A lower-cased keyword found in the prompt, case-insensitively.
keyword_in_prompt(keyword) if lower(keyword) in input.request.text_matches.keywords

# A pattern (RE2 syntax) that matches somewhere in the prompt.
pattern_in_prompt(pattern) if pattern in input.request.text_matches.patterns
