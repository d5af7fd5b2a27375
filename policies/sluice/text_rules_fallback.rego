# The text rules matched in Rego, for `opa test` and `opa eval`, which run without the gateway
# and so without input.request.text_matches. Never in a bundle: `sluice bundle build` leaves
# this file out (the gateway always passes the matches), so the compiled policy does not read
# the prompt text for its text rules and the gateway need not copy the prompt into WASM. A
# test in test/integration/policy proves both ways decide the same.
package sluice

# Keywords are compared with case folded and each run of whitespace read as one space, in the
# prompt as written and with its line breaks removed (a keyword split across two content
# blocks), as the gateway does; the gateway also folds look-alike letters, full-width forms and
# invisible characters, which Rego cannot.
keyword_in_prompt(keyword) if {
	not input.request.text_matches
	some text in prompt_texts
	contains(text, spaced(keyword))
}

spaced(s) := concat(" ", [word |
	some word in split(strings.replace_n({"\n": " ", "\t": " ", "\r": " "}, lower(s)), " ")
	word != ""
])

pattern_in_prompt(pattern) if {
	not input.request.text_matches
	regex.match(pattern, object.get(input, ["request", "text"], ""))
}

# The prompt text folded once per evaluation, for the keyword match.
prompt_texts := {spaced(text), spaced(strings.replace_n({"\n": ""}, text))} if {
	text := object.get(input, ["request", "text"], "")
}
