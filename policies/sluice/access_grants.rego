# Just-in-time access: a connection listed in data.sluice.access_grants.required_connections
# admits a caller only while they hold an approved, unexpired access grant for it. The gateway
# lists the connections a caller holds grants for in input.session.grants.
package sluice

violations contains {"check": "access_grant", "reason": $"connection \"{conn}\" needs an approved access grant: request one with POST /sluice/api/grants"} if {
	conn := input_connection
	conn in data.sluice.access_grants.required_connections
	not conn in session_grants
}
