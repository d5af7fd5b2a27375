# The entrypoint sluice/decision (contract in DESIGN.md, "The policy contract"). Deny by
# default: the default rule answers when nothing else does, so a request the policy did not
# foresee is refused, never allowed.
package sluice

default decision := {
	"allow": false,
	"reasons": ["no policy rule allowed this request"],
	"labels": {"rule": "default_deny"},
}

# `not_found`: a refusal on ownership answers 404 as if the object did not exist (ownership.rego).
decision := {
	"allow": false,
	"reasons": sort([v.reason | some v in violations]),
	"not_found": refused_on_ownership,
	"labels": {"rule": "deny", "checks": sort({v.check | some v in violations}), "groups": sort(caller_groups)},
} if count(violations) > 0

default refused_on_ownership := false

refused_on_ownership if {
	some v in violations
	v.check == "ownership"
}

decision := object.union(allow_result, approval_result) if count(violations) == 0

allow_result := {
	"allow": true,
	"reasons": [],
	"mask": mask,
	"limits": limits,
	"session": session_settings,
	"labels": {"rule": "grant", "groups": sort(caller_groups)},
}

# Only messages.create has a token ceiling; the listing operations have none. Two rules, no
# `else`: a group without max_tokens leaves `limits` undefined, so the default deny answers.
limits := {"max_tokens": max_tokens_ceiling, "budgets": [b | some b in call_budgets]} if {
	input.request.operation == "messages.create"
}

limits := {} if input.request.operation in read_only_operations

limits := {} if {
	input.request.operation in file_operations
	input.request.operation != "files.upload"
}

limits := upload_limits if input.request.operation == "files.upload"

# A batch call has no ceiling of its own: each of its requests was decided as a messages.create.
limits := {} if input.request.operation in batch_operations

# A skill upload is bounded by the Skills API's own size limit, which the gateway enforces.
limits := {} if input.request.operation in skill_operations

# approval_result (approvals.rego): the human approval the allow still needs, or {}.
