# MCP servers a request attaches (input.request.mcp_servers): each must be named in a grant of
# one of the caller's groups (data.sluice.groups[g].mcp_servers: name and url patterns, and the
# tools it may use, "*" for all). A request that enables every tool of a server (allowed_tools
# null) needs a grant of "*". A group without mcp_servers attaches none.
package sluice

mcp_grants contains grant if {
	some group in caller_groups
	some grant in object.get(data.sluice.groups[group], "mcp_servers", [])
}

mcp_server_granted(server) if {
	some grant in mcp_grants
	pattern_matches(grant.name, server.name)
	pattern_matches(grant.url, server.url)
}

mcp_tool_granted(server, tool) if {
	some grant in mcp_grants
	pattern_matches(grant.name, server.name)
	pattern_matches(grant.url, server.url)
	some pattern in object.get(grant, "tools", [])
	pattern_matches(pattern, tool)
}

violations contains {"check": "mcp_server", "reason": $"MCP server \"{server.name}\" ({server.url}) is not allowed for your groups ({caller_groups_text})"} if {
	generates
	some server in request_mcp_servers
	not mcp_server_granted(server)
}

violations contains {"check": "mcp_server", "reason": $"MCP server \"{server.name}\": all its tools are enabled, your groups ({caller_groups_text}) allow only some"} if {
	generates
	some server in request_mcp_servers
	mcp_server_granted(server)
	not is_array(server.allowed_tools)
	not mcp_tool_granted(server, "*")
}

violations contains {"check": "mcp_server", "reason": $"MCP tool \"{tool}\" of server \"{server.name}\" is not allowed for your groups ({caller_groups_text})"} if {
	generates
	some server in request_mcp_servers
	mcp_server_granted(server)
	some tool in server.allowed_tools
	not mcp_tool_granted(server, tool)
}

# An mcp_toolset tool must name an attached server (which the rules above judge).
violations contains {"check": "mcp_server", "reason": $"MCP toolset \"{tool.name}\" names no MCP server of the request"} if {
	generates
	some tool in input.request.tools
	tool_family(tool) == "mcp_toolset"
	not tool.name in {s.name | some s in request_mcp_servers}
}
