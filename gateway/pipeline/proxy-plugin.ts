import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApprovalGate } from '../approvals/approval-stage.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { SluiceError } from '../errors.ts';
import type { TokenVerifier } from '../identity/identity.ts';
import { extractBearerToken } from '../identity/token-verifier.ts';
import type { Operation } from '../inspect/facts.ts';
import type { UnknownBlocks } from '../inspect/request-schema.ts';
import type { SessionNumberings } from '../mask/placeholder-numbering.ts';
import type { RequestMetrics } from '../ops/request-metrics.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import type { SessionService } from '../access/session-service.ts';
import type { ConnectionRegistry } from '../upstream/connections.ts';
import { recordExchange } from './exchange-record.ts';
import { parseJsonBody } from '../inspect/json-body.ts';
import { Exchange } from './exchange.ts';
import { runExchange } from './run-exchange.ts';
import { sendError } from '../relay/relay-json.ts';

/** What the proxy route needs; all injected by buildApp so tests can pass real or stand-in parts. */
export interface ProxyDeps {
  readonly verifier: TokenVerifier;
  readonly policies: PolicyStore;
  readonly connections: ConnectionRegistry;
  readonly audit: AuditLog;
  readonly bodyLimit: number;
  /** Largest upstream answer relayed (config `limits.responseBytes`). */
  readonly responseBytes: number;
  /** Content bytes one audit event stores at most (config `audit.maxContentBytes`). */
  readonly auditMaxContentBytes: number;
  /** Key of the keyed-hash mask style (config `masking.hashKeyEnv`). */
  readonly maskHashKey: Buffer;
  /** Placeholder numbers per JIT session, so `[EMAIL_1]` means the same value across the session's calls. */
  readonly placeholderNumbering: SessionNumberings;
  readonly approvals: ApprovalGate;
  readonly sessions: SessionService;
  /** Counts finished calls for /metrics (gateway/ops). */
  readonly metrics?: RequestMetrics;
  /** Config `inspect.unknownBlocks`: refuse (default) or scan a content block type Sluice does not know. */
  readonly unknownBlocks?: UnknownBlocks;
}

declare module 'fastify' {
  interface FastifyRequest {
    exchange?: Exchange;
  }
}

/** The documented routes; nothing else exists (Fastify answers 404 for any other path). */
const ROUTES: ReadonlyArray<{ method: 'GET' | 'POST'; url: string; operation: Operation }> = [
  { method: 'POST', url: '/v1/messages', operation: 'messages.create' },
  { method: 'POST', url: '/v1/messages/count_tokens', operation: 'messages.count_tokens' },
  { method: 'GET', url: '/v1/models', operation: 'models.list' },
  { method: 'GET', url: '/v1/models/:model_id', operation: 'models.get' },
];

/** Methods the proxy serves on `path` (with or without a /c/{connection} prefix); empty if none. */
export function methodsFor(path: string): string[] {
  const bare = path.replace(/^\/c\/[^/]+/, '');
  const routePath = /^\/v1\/models\/[^/]+$/.test(bare) ? '/v1/models/:model_id' : bare;
  return ROUTES.filter((r) => r.url === routePath).map((r) => r.method);
}

function asSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new SluiceError('SLUICE_ERR_BODY_TOO_LARGE');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new SluiceError('SLUICE_ERR_UNSUPPORTED_MEDIA');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is empty');
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return new SluiceError('SLUICE_ERR_BAD_REQUEST', 'Content-Length does not match the body');
  return new SluiceError('SLUICE_ERR_INTERNAL', undefined, { cause: err });
}

/** Audits the exchange once and logs its outcome with the decision id (never prompt text or tokens). */
function settle(req: FastifyRequest, deps: ProxyDeps, ex: Exchange): void {
  const outcome = recordExchange(deps.audit, ex, deps.auditMaxContentBytes);
  if (outcome === undefined) return;
  deps.metrics?.observe(ex, outcome);
  req.log.info(
    { decision_id: ex.decisionId, outcome, status: ex.response?.status, code: ex.error?.code, subject: ex.identity?.sub, connection: ex.connection?.name, timings_ms: ex.timingsMs },
    'exchange recorded',
  );
}

/**
 * The proxy: one plugin, registered at `/` (default connection) and at `/c/:connection`
 * (a named one). Authentication runs in onRequest, before any body byte is read, so an
 * anonymous caller cannot make the gateway buffer or parse anything.
 */
export async function proxyPlugin(app: FastifyInstance, deps: ProxyDeps): Promise<void> {
  // Raw bytes in, parsed in the handler: keeps the exact bytes for forwarding and lets a
  // bad body be audited like any other refusal. Scoped to this plugin only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req: FastifyRequest) => {
    const route = ROUTES.find((r) => r.url === req.routeOptions.config.url);
    req.exchange = new Exchange(route?.operation ?? 'messages.create', req.ip);
    const ex = req.exchange;
    const name = (req.params as { connection?: string }).connection;
    ex.connection = deps.connections.get(name);
    if (!ex.connection) throw new SluiceError('SLUICE_ERR_UNKNOWN_CONNECTION', `unknown connection "${name}"`);
    ex.identity = await ex.timed('auth', () => deps.verifier.verify(extractBearerToken(req.headers.authorization)));
    // Before any body byte is read: a revoked session's tokens get nothing parsed either.
    const identity = ex.identity;
    const entry = await ex.timed('session', () => deps.sessions.enter(identity, ex.connection!.name));
    ex.session = entry.facts;
  });

  app.setErrorHandler(async (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const sluiceErr = asSluiceError(err);
    if (sluiceErr.code === 'SLUICE_ERR_INTERNAL') req.log.error({ err }, 'unexpected error in proxy route');
    if (req.exchange) {
      req.exchange.error ??= sluiceErr;
      const error = { type: sluiceErr.type, message: sluiceErr.message, code: sluiceErr.code };
      req.exchange.response ??= { status: sluiceErr.status, stream: false, body: null, usage: null, error };
      settle(req, deps, req.exchange);
    }
    if (reply.sent || reply.raw.headersSent) return;
    // Refused before its body arrived: the app's onSend hook closes the connection (server.ts).
    sendError(reply, sluiceErr);
  });

  for (const route of ROUTES) {
    app.route({
      method: route.method,
      url: route.url,
      config: { url: route.url },
      handler: async (req, reply) => {
        const ex = req.exchange!;
        const body = route.method === 'POST' ? parseJsonBody(req.body as Buffer | undefined) : undefined;
        await runExchange({ req, reply, ex, body, deps });
        settle(req, deps, ex);
      },
    });
  }
}
