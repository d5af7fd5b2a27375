import type { FastifyInstance } from 'fastify';
import type { PolicyStore } from '../policy/policy-store.ts';
import type { ConnectionRegistry } from '../upstream/connections.ts';

/** Liveness and readiness. Ready means a policy bundle is loaded: without one every call would be refused. */
export async function opsPlugin(app: FastifyInstance, deps: { policies: PolicyStore; connections: ConnectionRegistry }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const engine = deps.policies.current();
    const connections = deps.connections.list().map((c) => ({ name: c.name, echo: c.echo }));
    if (!engine) return reply.code(503).send({ status: 'not_ready', reason: 'no policy bundle loaded', connections });
    return { status: 'ready', bundle: { revision: engine.revision }, connections };
  });
}
