package sluice_test

mcp(name, url, tools) := {"name": name, "url": url, "allowed_tools": tools, "enabled": true}

wiki := "https://mcp.wiki.example.com/sse"

test_mcp_server_needs_a_grant if {
	r := reasons(["ci"], {"model": "claude-haiku-4-5", "max_tokens": 1024, "mcp_servers": [mcp("wiki", wiki, ["search"])]})
	r == {`MCP server "wiki" (https://mcp.wiki.example.com/sse) is not allowed for your groups (ci)`}
	reasons(["engineering"], {"mcp_servers": [mcp("wiki", "https://evil.example/sse", ["search"])]}) == {`MCP server "wiki" (https://evil.example/sse) is not allowed for your groups (engineering)`}
	count(reasons(["engineering"], {"mcp_servers": [mcp("wiki", wiki, ["search", "read_page"])]})) == 0
}

test_mcp_tools_need_a_grant if {
	reasons(["engineering"], {"mcp_servers": [mcp("wiki", wiki, ["search", "delete_page"])]}) == {`MCP tool "delete_page" of server "wiki" is not allowed for your groups (engineering)`}
	reasons(["engineering"], {"mcp_servers": [mcp("wiki", wiki, null)]}) == {`MCP server "wiki": all its tools are enabled, your groups (engineering) allow only some`}
	count(reasons(["admins"], {"mcp_servers": [mcp("anything", "https://x.example", null)]})) == 0
}

test_mcp_toolset_must_name_an_attached_server if {
	toolset := {"name": "wiki", "type": "mcp_toolset", "family": "mcp_toolset"}
	count(reasons(["engineering"], {"tools": [toolset], "mcp_servers": [mcp("wiki", wiki, ["search"])]})) == 0
	reasons(["admins"], {"tools": [toolset]}) == {`MCP toolset "wiki" names no MCP server of the request`}
}
