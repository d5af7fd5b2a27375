# Input fields with their defaults, for rules that must not fail on an input lacking them.
# Rules read the input through these (or through full paths such as input.request.model), never
# as a whole (`object.get(input, …)`, `input.request[k]`): the bundle builder asks `opa deps`
# which input paths the policy reads, and the gateway leaves input.request.text, the whole
# prompt, out of the WASM input when no rule reads it (parsing it in WASM was a third of an
# evaluation's cost).
package sluice

default input_connection := ""

input_connection := input.connection

default request_operation := "(none)"

request_operation := input.request.operation

default request_model := ""

# A call without a model (a file upload: `null`) reads as "", so `"*"` patterns still match it.
request_model := input.request.model if is_string(input.request.model)

default request_findings := {}

request_findings := input.request.findings if is_object(input.request.findings)

default caller_scopes := []

caller_scopes := input.identity.scopes

default session_grants := []

session_grants := input.session.grants

default request_mcp_servers := []

request_mcp_servers := input.request.mcp_servers if is_array(input.request.mcp_servers)
