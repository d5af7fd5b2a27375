import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import { renderAuditMetrics } from '../audit/audit-ops.ts';
import { policyMetricsText, policyReadiness } from '../policy/policy-metrics.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import type { ConnectionRegistry } from '../upstream/connections.ts';

/** Liveness and readiness. Ready means a policy bundle is loaded: without one every call would be refused. */
export async function opsPlugin(app: FastifyInstance, deps: { policies: PolicyStore; connections: ConnectionRegistry; audit?: AuditLog }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const engine = deps.policies.current();
    const connections = deps.connections.list().map((c) => ({ name: c.name, echo: c.echo }));
    // Audit sinks: spool depth and delivery lag; not ready while a full spool refuses calls (fail closed).
    const audit = deps.audit?.status();
    if (audit && !audit.accepting) return reply.code(503).send({ status: 'not_ready', reason: audit.reasons.join('; '), audit, connections });
    if (!engine) return reply.code(503).send({ status: 'not_ready', reason: 'no policy bundle loaded', bundle: policyReadiness(deps.policies), connections });
    return { status: 'ready', bundle: { ...policyReadiness(deps.policies), revision: engine.revision }, connections, ...(audit ? { audit } : {}) };
  });
  // Prometheus text format: the active bundle revision and reloads, audit sink gauges and counters.
  app.get('/metrics', async (_req, reply) =>
    reply.type('text/plain; version=0.0.4').send(`${policyMetricsText(deps.policies)}${deps.audit ? renderAuditMetrics(deps.audit) : ''}`),
  );
}
