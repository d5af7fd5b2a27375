# Large prompts wait for a human: above the caller's max_input_tokens (per group, in
# data.sluice.library.token_approval; the largest of the caller's groups applies), the request's
# estimated input tokens add an approval trigger. Groups without a threshold never trigger it.
package sluice

token_approval_threshold := max({n |
	some group in caller_groups
	n := data.sluice.library.token_approval.max_input_tokens[group]
})

approval_triggers contains {"rule": "token_size", "reason": $"the prompt is about {tokens} tokens, above the {token_approval_threshold} your groups may send without approval"} if {
	tokens := input.request.estimated_input_tokens
	tokens > token_approval_threshold
}
