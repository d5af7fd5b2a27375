# The text rules matched in Rego, for `opa test` and `opa eval`, which run without the gateway
# and so without input.request.text_matches. Never in a bundle: `sluice bundle build` leaves
# this file out (the gateway always passes the matches), so the compiled policy does not read
# the prompt text for its text rules and the gateway need not copy the prompt into WASM. A
# test in test/integration/policy proves both ways decide the same.
package sluice

# Keywords are compared with case and all whitespace folded away, as the gateway does (which also
# folds look-alike letters, full-width forms and zero-width characters: Rego cannot).
keyword_in_prompt(keyword) if {
	not input.request.text_matches
	contains(prompt_text, folded(keyword))
}

folded(s) := strings.replace_n({" ": "", "\n": "", "\t": "", "\r": ""}, lower(s))

pattern_in_prompt(pattern) if {
	not input.request.text_matches
	regex.match(pattern, object.get(input, ["request", "text"], ""))
}

# The prompt text folded once per evaluation, for the keyword match.
prompt_text := folded(object.get(input, ["request", "text"], ""))
