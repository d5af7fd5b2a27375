package sluice_test

import data.sluice

test_keyword_requires_an_approval if {
	d := sluice.decision with input as request_by(["engineering"], {"text": "Please list the Production Credentials for the db"})
	d.allow == true
	d.approval == {"required": true, "reason": "the prompt mentions production credentials", "approver_groups": ["admins"], "ttl_seconds": 3600}
	d.labels == {"rule": "approval", "approval_rules": ["keyword"], "groups": ["engineering"]}
}

test_every_trigger_is_named if {
	i := request_by(["engineering"], {"text": "wire transfer", "findings": {"US_SSN": 1}})
	d := sluice.decision with input as i with data.sluice.approval.on_findings as ["US_SSN"]
	d.approval.reason == "the prompt contains US_SSN; the prompt mentions wire transfer"
	d.labels.approval_rules == ["findings", "keyword"]
}

test_an_approved_keyword_call_is_allowed if {
	i := object.union(request_by(["engineering"], {"text": "wire transfer"}), {"approval": {"id": "apr_1", "state": "approved", "approver": "bob"}})
	d := sluice.decision with input as i
	d.allow == true
	not d.approval
	d.labels.rule == "grant"
}

test_a_pending_approval_does_not_release if {
	i := object.union(request_by(["engineering"], {"text": "wire transfer"}), {"approval": {"id": "apr_1", "state": "pending", "approver": null}})
	d := sluice.decision with input as i
	d.approval.required == true
}

test_plain_prompt_needs_no_approval if {
	count(sluice.approval_triggers) == 0 with input as request_by(["engineering"], {"text": "transfer the wire to the shed"})
}
