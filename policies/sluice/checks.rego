# Why a request is refused. Each check adds a {check, reason} object to `violations`; the
# decision is an allow only when there is none, so anything not granted is denied.
package sluice

# Listing models and counting tokens costs nothing and reveals no content: any caller with a
# known group may do them, without the model and token ceilings of messages.create.
read_only_operations := {"models.list", "models.get", "messages.count_tokens"}

# The Files API: a group uses an operation only when its `operations` list grants it ("files.*").
file_operations := {"files.upload", "files.list", "files.get", "files.download", "files.delete"}

# Message Batches, granted the same way ("batches.*", or one by one: "batches.get", …). Each
# request of a new batch is decided on its own as a messages.create, so the model, tool and
# token checks apply to every one.
batch_operations := {"batches.create", "batches.list", "batches.get", "batches.results", "batches.cancel", "batches.delete"}

# The Skills API ("skills.*"): a skill's versions are reached through the skill, so reading or
# changing them is granted with the skill operations (skills.rego judges what an upload holds).
skill_operations := {
	"skills.create", "skills.list", "skills.get", "skills.delete",
	"skills.versions.create", "skills.versions.list", "skills.versions.get", "skills.versions.delete",
}

# The operations a group's `operations` list must grant.
granted_operations := (file_operations | batch_operations) | skill_operations

known_operations := (read_only_operations | {"messages.create"}) | granted_operations

violations contains {"check": "groups", "reason": "no group of yours grants access"} if {
	count(caller_groups) == 0
}

violations contains {"check": "operation", "reason": $"operation \"{op}\" is not handled by this policy"} if {
	op := request_operation
	not op in known_operations
}

violations contains {"check": "operation", "reason": $"operation \"{op}\" is not allowed for your groups ({caller_groups_text})"} if {
	count(caller_groups) > 0
	op := request_operation
	op in granted_operations
	not granted("operations", op)
}

violations contains {"check": "connection", "reason": $"connection \"{conn}\" is not allowed for your groups ({caller_groups_text})"} if {
	count(caller_groups) > 0
	conn := input_connection
	not granted("connections", conn)
}

violations contains {"check": "model", "reason": "the request names no model"} if {
	generates
	not is_string(input.request.model)
}

violations contains {"check": "model", "reason": $"model \"{model}\" is not allowed for your groups ({caller_groups_text})"} if {
	generates
	model := input.request.model
	is_string(model)
	not granted("models", model)
}

violations contains {"check": "skill", "reason": $"skill \"{id}\" is not allowed for your groups ({caller_groups_text})"} if {
	generates
	some skill in input.request.skills
	id := object.get(skill, "skill_id", "")
	not granted("skills", id)
}

# A tool is judged by its family: a custom tool by its name, a server tool by its type without
# the version date (the gateway sets `family`), so a code_execution tool named "bash" is judged
# as code_execution. An mcp_toolset entry is judged with its MCP server (mcp.rego).
violations contains {"check": "tool", "reason": $"tool {tool_label(tool)} is not allowed for your groups ({caller_groups_text})"} if {
	generates
	some tool in input.request.tools
	family := tool_family(tool)
	family != "mcp_toolset"
	not granted("tools", family)
}

tool_family(tool) := family if {
	family := object.get(tool, "family", null)
	is_string(family)
}

# Without `family` (an input built elsewhere) the safer reading: a typed tool by its type.
tool_family(tool) := object.get(tool, "name", "") if {
	not is_string(object.get(tool, "family", null))
	object.get(tool, "type", "custom") == "custom"
}

tool_family(tool) := object.get(tool, "type", "custom") if {
	not is_string(object.get(tool, "family", null))
	object.get(tool, "type", "custom") != "custom"
}

tool_label(tool) := $"\"{object.get(tool, "name", "")}\"" if tool_family(tool) == object.get(tool, "name", "")

else := $"\"{object.get(tool, "name", "")}\" of type \"{tool_family(tool)}\""

# Images and PDFs cannot be inspected: a group sends them only when its `media` list allows the
# kind ("images", "documents"). A group without the list sends neither.
violations contains {"check": "media", "reason": $"the request carries {n} {kind}, which your groups ({caller_groups_text}) may not send"} if {
	input.request.operation in {"messages.create", "messages.count_tokens"}
	count(caller_groups) > 0
	some kind in ["images", "documents"]
	n := object.get(input.request.media, kind, 0)
	n > 0
	not granted("media", kind)
}

violations contains {"check": "max_tokens", "reason": $"max_tokens {requested} exceeds your limit of {max_tokens_ceiling}"} if {
	generates
	requested := input.request.max_tokens
	is_number(requested)
	requested > max_tokens_ceiling
}

# messages.create by a caller with at least one known group: the only call the ceilings apply to.
generates if {
	input.request.operation == "messages.create"
	count(caller_groups) > 0
}
