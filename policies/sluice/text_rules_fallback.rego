# The text rules matched in Rego, for `opa test` and `opa eval`, which run without the gateway
# and so without input.request.text_matches. Never in a bundle: `sluice bundle build` leaves
# this file out (the gateway always passes the matches), so the compiled policy does not read
# the prompt text for its text rules and the gateway need not copy the prompt into WASM. A
# test in test/integration/policy proves both ways decide the same.
package sluice

keyword_in_prompt(keyword) if {
	not input.request.text_matches
	contains(prompt_text, lower(keyword))
}

pattern_in_prompt(pattern) if {
	not input.request.text_matches
	regex.match(pattern, object.get(input, ["request", "text"], ""))
}

# The prompt text lower-cased once per evaluation, for the keyword match.
prompt_text := lower(object.get(input, ["request", "text"], ""))
