# Why a request waits for a human approver. Each trigger adds a {rule, reason} object to
# `approval_triggers`; other rule files add their own triggers the same way. An allowed request
# with any trigger gets an `approval` in its decision, unless it already carries an approved one.
package sluice

# Findings of a type in data.sluice.approval.on_findings (e.g. a private key in the prompt).
approval_findings contains finding if {
	some finding in data.sluice.approval.on_findings
	input.request.findings[finding] > 0
}

approval_triggers contains {"rule": "findings", "reason": $"the prompt contains {concat(", ", sort(approval_findings))}"} if {
	count(approval_findings) > 0
}

# High-risk keywords from data.sluice.approval.on_keywords, matched case-insensitively.
text_keywords contains lower(keyword) if some keyword in data.sluice.approval.on_keywords

approval_keywords contains keyword if {
	some keyword in data.sluice.approval.on_keywords
	keyword_in_prompt(keyword)
}

approval_triggers contains {"rule": "keyword", "reason": $"the prompt mentions {concat(", ", sort(approval_keywords))}"} if {
	count(approval_keywords) > 0
}

approval_result := {
	"approval": {
		"required": true,
		"reason": concat("; ", sort({t.reason | some t in approval_triggers})),
		"approver_groups": data.sluice.approval.approver_groups,
		"ttl_seconds": data.sluice.approval.ttl_seconds,
	},
	"labels": {"rule": "approval", "approval_rules": sort({t.rule | some t in approval_triggers})},
} if {
	count(approval_triggers) > 0
	not input.approval.state == "approved"
}

else := {}
