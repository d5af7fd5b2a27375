package sluice_test

import data.sluice

# An input missing the fields read through input_fields.rego still decides, on their defaults.
sparse_input := {"identity": {"groups": ["ci"]}, "request": {"operation": "messages.create", "model": "claude-haiku-4-5", "max_tokens": 16}}

test_missing_fields_take_their_defaults if {
	sluice.input_connection == "" with input as sparse_input
	sluice.request_model == "" with input as {}
	sluice.request_findings == {} with input as object.union(sparse_input, {"request": {"findings": null}})
	sluice.caller_scopes == [] with input as sparse_input
	sluice.session_grants == [] with input as sparse_input
}

test_a_missing_connection_is_refused_by_name if {
	r := {v.reason | some v in sluice.violations} with input as sparse_input
	`connection "" is not allowed for your groups (ci)` in r
}
