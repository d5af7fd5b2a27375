import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import { renderAuditMetrics } from '../audit/audit-ops.ts';
import { policyMetricsText, policyReadiness } from '../policy/policy-metrics.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import type { ConnectionRegistry } from '../upstream/connections.ts';
import { SluiceError, toErrorBody } from '../errors.ts';
import type { UsageStore } from '../usage/usage-store.ts';
import { budgetMetricsText } from './budget-metrics.ts';
import type { RequestMetrics } from './request-metrics.ts';

/** The standard Prometheus process gauges plus V8 heap and external memory (where a gateway's memory goes). */
function processMetricsText(): string {
  const m = process.memoryUsage();
  const gauge = (name: string, help: string, value: number): string =>
    `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}\n`;
  return (
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', m.rss) +
    gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', m.heapUsed) +
    gauge('nodejs_heap_total_bytes', 'V8 heap reserved, in bytes.', m.heapTotal) +
    gauge(
      'nodejs_external_memory_bytes',
      'Memory outside the V8 heap held by JS objects (buffers, WASM), in bytes.',
      m.external + m.arrayBuffers,
    )
  );
}

/** Liveness and readiness. Ready means a policy bundle is loaded: without one every call would be refused. */
export interface OpsDeps {
  readonly policies: PolicyStore;
  readonly connections: ConnectionRegistry;
  readonly audit?: AuditLog;
  readonly metrics?: RequestMetrics;
  /** When set, /metrics answers only `Authorization: Bearer <this>` (config metrics.tokenEnv). */
  readonly metricsToken?: string;
  /** The budget counters, and how many of the budgets nearest their limit /metrics shows (metrics.budgetKeys). */
  readonly budgets?: { readonly usage: UsageStore; readonly count: number };
}

/** Constant-time check of a bearer token against the configured one. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer +(.+)$/i.exec(header ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function opsPlugin(app: FastifyInstance, deps: OpsDeps): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const engine = deps.policies.current();
    const connections = deps.connections.list().map((c) => ({ name: c.name, echo: c.echo }));
    // Audit sinks: spool depth and delivery lag; not ready while a full spool refuses calls (fail closed).
    const audit = deps.audit?.status();
    if (audit && !audit.accepting)
      return reply.code(503).send({ status: 'not_ready', reason: audit.reasons.join('; '), audit, connections });
    if (!engine)
      return reply.code(503).send({
        status: 'not_ready',
        reason: 'no policy bundle loaded',
        bundle: policyReadiness(deps.policies),
        connections,
      });
    return {
      status: 'ready',
      bundle: { ...policyReadiness(deps.policies), revision: engine.revision },
      connections,
      ...(audit ? { audit } : {}),
    };
  });
  // Prometheus text format: the active bundle revision and reloads, audit sink gauges and counters.
  app.get('/metrics', async (req, reply) => {
    if (deps.metricsToken !== undefined && !bearerMatches(req.headers.authorization, deps.metricsToken)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(
          toErrorBody(
            new SluiceError('SLUICE_ERR_AUTH_MISSING', 'metrics need the token configured by metrics.tokenEnv'),
          ),
        );
    }
    const requests = deps.metrics?.render() ?? '';
    const audit = deps.audit ? renderAuditMetrics(deps.audit) : '';
    // The state database down must not take the other metrics with it: the budget series are left out then.
    const budgets = deps.budgets
      ? await budgetMetricsText(deps.budgets.usage, deps.budgets.count).catch((err: unknown) => {
          req.log.warn({ err: (err as Error).message }, 'budget metrics unavailable');
          return '';
        })
      : '';
    return reply
      .type('text/plain; version=0.0.4')
      .send(`${processMetricsText()}${policyMetricsText(deps.policies)}${requests}${audit}${budgets}`);
  });
}
