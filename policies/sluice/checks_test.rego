package sluice_test

import data.sluice

reasons(groups, request) := r if {
	r := {v.reason | some v in sluice.violations} with input as request_by(groups, request)
}

test_engineering_may_use_sonnet_with_its_skills_and_tools if {
	count(reasons(["engineering"], {"skills": [skill("pdf")], "tools": [tool("web_search")]})) == 0
}

test_no_known_group if {
	reasons(["contractors"], {}) == {"no group of yours grants access"}
}

test_unknown_operation if {
	reasons(["admins"], {"operation": "vaults.create"}) == {`operation "vaults.create" is not handled by this policy`}
	`operation "(none)" is not handled by this policy` in {v.reason | some v in sluice.violations} with input as {"identity": {"groups": ["admins"]}, "connection": "anthropic"}
}

test_connection_not_granted if {
	count(reasons(["ci"], {"operation": "models.list"})) == 0
	r := {v.reason | some v in sluice.violations} with input as object.union(request_by(["ci"], {"model": "claude-haiku-4-5"}), {"connection": "bedrock"})
	r == {`connection "bedrock" is not allowed for your groups (ci)`}
}

test_model_not_granted if {
	reasons(["ci"], {"model": "claude-sonnet-4-5", "max_tokens": 1024}) == {`model "claude-sonnet-4-5" is not allowed for your groups (ci)`}
	reasons(["ci"], {"model": null, "max_tokens": 1024}) == {"the request names no model"}
}

test_skill_not_granted if {
	reasons(["engineering"], {"skills": [skill("pdf"), skill("pptx")]}) == {`skill "pptx" is not allowed for your groups (engineering)`}
	reasons(["ci"], {"model": "claude-haiku-4-5", "max_tokens": 1024, "skills": [skill("pdf")]}) == {`skill "pdf" is not allowed for your groups (ci)`}
	count(reasons(["admins"], {"skills": [skill("skill_01AbCd")]})) == 0
}

test_tool_not_granted if {
	reasons(["engineering"], {"tools": [tool("bash"), tool("computer")]}) == {`tool "computer" is not allowed for your groups (engineering)`}
	reasons(["ci"], {"model": "claude-haiku-4-5", "max_tokens": 1024, "tools": [tool("bash")]}) == {`tool "bash" is not allowed for your groups (ci)`}
}

test_max_tokens_above_ceiling if {
	reasons(["engineering"], {"max_tokens": 100000}) == {"max_tokens 100000 exceeds your limit of 32000"}
	count(reasons(["engineering"], {"max_tokens": 32000})) == 0
	count(reasons(["engineering", "admins"], {"max_tokens": 64000})) == 0
}

test_read_only_operations_skip_the_ceilings if {
	count(reasons(["ci"], {"operation": "models.get", "model": "claude-opus-4-1"})) == 0
	count(reasons(["ci"], {"operation": "messages.count_tokens", "model": "claude-opus-4-1", "max_tokens": null})) == 0
	reasons([], {"operation": "models.list"}) == {"no group of yours grants access"}
}

test_every_violation_is_reported if {
	count(reasons(["ci"], {"max_tokens": 100000, "skills": [skill("pdf")], "tools": [tool("bash")]})) == 4
}

server_tool(name, type, family) := {"name": name, "type": type, "family": family}

test_server_tools_are_judged_by_type_family_not_name if {
	# A code_execution tool named "bash" is code_execution, which engineering is not granted.
	reasons(["engineering"], {"tools": [server_tool("bash", "code_execution_20250825", "code_execution")]}) == {`tool "bash" of type "code_execution" is not allowed for your groups (engineering)`}
	count(reasons(["engineering"], {"tools": [server_tool("web_search", "web_search_20250305", "web_search")]})) == 0
	count(reasons(["engineering"], {"tools": [server_tool("bash", "bash_20250124", "bash")]})) == 0

	# An input without `family` is judged by its raw type: never granted by a name.
	reasons(["engineering"], {"tools": [{"name": "bash", "type": "code_execution_20250825"}]}) == {`tool "bash" of type "code_execution_20250825" is not allowed for your groups (engineering)`}
}

test_media_per_group if {
	images := {"media": {"images": 2, "documents": 0, "bytes": 100}}
	pdfs := {"media": {"images": 0, "documents": 1, "bytes": 100}}
	reasons(["ci"], object.union({"model": "claude-haiku-4-5", "max_tokens": 1024}, images)) == {"the request carries 2 images, which your groups (ci) may not send"}
	reasons(["ci"], object.union({"model": "claude-haiku-4-5", "max_tokens": 1024, "operation": "messages.count_tokens"}, pdfs)) == {"the request carries 1 documents, which your groups (ci) may not send"}
	count(reasons(["engineering"], images)) == 0
	count(reasons(["admins"], pdfs)) == 0

	# A group without a media list sends none.
	no_media := {"engineering": {"models": ["*"], "connections": ["*"], "max_tokens": 10}}
	r := {v.reason | some v in sluice.violations} with input as request_by(["engineering"], object.union({"max_tokens": 10}, images)) with data.sluice.groups as no_media
	r == {"the request carries 2 images, which your groups (engineering) may not send"}
}

# Claude Code's defaults for Sonnet: its client-side tools, max_tokens 32000.
test_engineering_may_run_claude_code if {
	cc_tools := [tool(name) | some name in ["Agent", "Bash", "Edit", "Read", "Skill", "TaskCreate", "WebFetch", "Write"]]
	count(reasons(["engineering"], {"max_tokens": 32000, "tools": cc_tools})) == 0
}

test_ci_may_not_run_claude_code_tools if {
	reasons(["ci"], {"model": "claude-haiku-4-5", "max_tokens": 1024, "tools": [tool("Bash")]}) == {`tool "Bash" is not allowed for your groups (ci)`}
}

batch_call(op) := {"operation": op, "model": null, "max_tokens": null}

test_batches_only_for_groups_granting_them if {
	every op in sluice.batch_operations {
		count(reasons(["engineering"], batch_call(op))) == 0
		count(reasons(["admins"], batch_call(op))) == 0
	}
	reasons(["ci"], batch_call("batches.create")) == {`operation "batches.create" is not allowed for your groups (ci)`}
	reasons(["ci"], batch_call("batches.results")) == {`operation "batches.results" is not allowed for your groups (ci)`}
	reasons([], batch_call("batches.list")) == {"no group of yours grants access"}
}

test_batches_granted_per_action if {
	readers := {"ci": {"connections": ["*"], "operations": ["batches.get", "batches.results"]}}
	count(reasons(["ci"], batch_call("batches.results"))) == 0 with data.sluice.groups as readers
	reasons(["ci"], batch_call("batches.create")) == {`operation "batches.create" is not allowed for your groups (ci)`} with data.sluice.groups as readers
}
