package sluice_test

import data.sluice

# A messages.create call that engineering may make; each test overrides what it is about.
request_by(groups, request) := {
	"identity": {"sub": "alice", "iss": "https://idp.example", "groups": groups, "scopes": []},
	"connection": "anthropic",
	"request": object.union(
		{
			"operation": "messages.create", "model": "claude-sonnet-4-5", "stream": false,
			"max_tokens": 1024, "skills": [], "tools": [], "betas": [],
			"estimated_input_tokens": 12, "text": "hello", "findings": {},
		},
		request,
	),
	"session": null,
	"approval": null,
	"now": "2025-01-01T00:00:00Z",
}

skill(id) := {"type": "anthropic", "skill_id": id, "version": "latest"}

tool(name) := {"name": name, "type": "custom"}

test_allow_carries_limits_mask_and_session if {
	d := sluice.decision with input as request_by(["engineering"], {})
	d.allow == true
	d.reasons == []
	d.limits.max_tokens == 32000
	d.mask.request == ["CREDIT_CARD", "EMAIL", "EMPLOYEE_ID", "IBAN", "PHONE", "US_SSN"]
	d.session.idle_timeout_seconds == 900
	d.labels == {"rule": "grant", "groups": ["engineering"]}
	not d.approval
}

test_listing_has_no_ceiling if {
	d := sluice.decision with input as request_by(["ci"], {"operation": "models.list", "model": null, "max_tokens": null})
	d.allow == true
	d.limits == {}
}

test_deny_lists_sorted_reasons_and_checks if {
	d := sluice.decision with input as request_by(["ci"], {"model": "claude-opus-4-1", "max_tokens": 4096})
	d.allow == false
	d.reasons == ["max_tokens 4096 exceeds your limit of 2048", `model "claude-opus-4-1" is not allowed for your groups (ci)`]
	d.labels == {"rule": "deny", "checks": ["max_tokens", "model"], "groups": ["ci"]}
}

test_default_deny_when_the_allow_cannot_be_built if {
	no_ceiling := {"engineering": {"models": ["*"], "connections": ["*"]}}
	d := sluice.decision with input as request_by(["engineering"], {}) with data.sluice.groups as no_ceiling
	d == {"allow": false, "reasons": ["no policy rule allowed this request"], "labels": {"rule": "default_deny"}}
}

test_findings_require_an_approval if {
	d := sluice.decision with input as request_by(["engineering"], {"findings": {"US_SSN": 1, "EMAIL": 2}}) with data.sluice.approval.on_findings as ["US_SSN"]
	d.allow == true
	d.approval == {"required": true, "reason": "the prompt contains US_SSN", "approver_groups": ["admins"], "ttl_seconds": 3600}
}

test_an_approved_call_needs_no_new_approval if {
	i := object.union(request_by(["engineering"], {"findings": {"US_SSN": 1}}), {"approval": {"id": "apr_1", "state": "approved", "approver": "bob"}})
	d := sluice.decision with input as i with data.sluice.approval.on_findings as ["US_SSN"]
	d.allow == true
	not d.approval
}

test_deny_wins_over_approval if {
	d := sluice.decision with input as request_by(["ci"], {"model": "claude-opus-4-1", "findings": {"US_SSN": 1}}) with data.sluice.approval.on_findings as ["US_SSN"]
	d.allow == false
	not d.approval
}

test_batch_calls_have_no_ceiling_of_their_own if {
	d := sluice.decision with input as request_by(["engineering"], {"operation": "batches.create", "model": null, "max_tokens": null})
	d.allow == true
	d.limits == {}
	denied := sluice.decision with input as request_by(["ci"], {"operation": "batches.get", "model": null, "max_tokens": null})
	denied.allow == false
}
