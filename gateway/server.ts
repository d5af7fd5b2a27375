import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { logAccess } from './pipeline/access-log.ts';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { STATUS_CODES } from 'node:http';
import { apiPlugin } from './access/api-plugin.ts';
import type { ApprovalGate } from './approvals/approval-stage.ts';
import type { OwnershipStore } from './access/ownership.ts';
import type { BatchRequestStore } from './batches/batch-store.ts';
import type { AuditLog } from './audit/audit-log.ts';
import { ConfigError, isLoopback, type SluiceConfig } from './config.ts';
import { consolePlugin } from './console/console-plugin.ts';
import type { ConsoleSignInStore } from './console/console-sessions.ts';
import { OidcLogin } from './console/oidc-login.ts';
import { SluiceError, errorBody, sendError, toSluiceError } from './errors.ts';
import type { DevIssuer } from './identity/dev-issuer.ts';
import { devIssuerRoutes } from './identity/dev-issuer-routes.ts';
import type { TokenVerifier } from './identity/identity.ts';
import { registerPreAuthLimits } from './identity/pre-auth-limits.ts';
import { opsPlugin } from './ops/ops-plugin.ts';
import { RequestMetrics } from './ops/request-metrics.ts';
import type { CallTelemetry } from './otlp/call-telemetry.ts';
import type { PolicyStore } from './policy/policy-store.ts';
import { loadHashKey } from './mask/hash-key.ts';
import { SessionNumberings } from './mask/placeholder-numbering.ts';
import { methodsFor } from './operations/operation-table.ts';
import { proxyPlugin } from './pipeline/proxy-plugin.ts';
import type { ExchangeSummary } from './pipeline/exchange-record.ts';
import { PriceTable } from './usage/prices.ts';
import type { UsageStore } from './usage/usage-store.ts';
import type { SessionService } from './access/session-service.ts';
import type { ConnectionRegistry } from './upstream/connections.ts';

/** The parts buildApp composes; passed in so that nothing does I/O on import and tests inject their own. */
export interface AppDeps {
  readonly verifier: TokenVerifier;
  readonly policies: PolicyStore;
  readonly connections: ConnectionRegistry;
  readonly audit: AuditLog;
  /** Approval holds and JIT sessions (gateway/approvals, gateway/access). */
  readonly approvals: ApprovalGate;
  readonly sessions: SessionService;
  /** Usage counters of the budgets, in the shared state store. */
  readonly usage: UsageStore;
  /** Message Batches created through Sluice: each request's decision and response masking. */
  readonly batchRequests: BatchRequestStore;
  /** Console sign-ins in the shared state store. */
  readonly consoleSignIns: ConsoleSignInStore;
  /** Who created which file (or other upstream object) through Sluice, in the shared state store. */
  readonly ownership: OwnershipStore;
  /** Present on the embedded default: serves the dev issuer's discovery and JWKS at /dev-issuer. */
  readonly devIssuer?: DevIssuer;
  /** With telemetry.otlp traces or metrics: each finished call also becomes spans and OTLP metrics. */
  readonly telemetry?: CallTelemetry;
}

/** Status and message for an HTTP-level client error (Node's parser or its timeouts). */
function describeClientError(code: string | undefined): { status: number; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, message: 'request not received in time (limits.headersTimeoutMs / limits.requestTimeoutMs)' };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, message: 'request headers too large' };
  return { status: 400, message: `malformed HTTP request (${code ?? 'parse error'})` };
}

/**
 * Builds the Fastify app from a validated config. Logs never carry tokens, keys or prompt text:
 * request logging keeps Fastify's serializers (method, url, ids) and header values are redacted.
 */
export function buildApp(config: SluiceConfig, deps: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: {
      level: config.log.level,
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'],
        censor: '[redacted]',
      },
    },
    genReqId: () => randomUUID(),
    // One access line per request instead (pipeline/access-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.listen.trustProxy,
    // Fastify's default removes properties a schema does not allow and carries on; an approver's
    // misspelt field silently dropped is a decision made on something else: refuse it (400).
    ajv: { customOptions: { removeAdditional: false } },
    bodyLimit: config.limits.bodyBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(config.limits.headersTimeoutMs, config.limits.requestTimeoutMs),
      // Node checks the two timeouts above only this often (default 30 s): keep it well below them.
      connectionsCheckingInterval: Math.min(1000, config.limits.headersTimeoutMs),
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Malformed or too-slow HTTP never reaches a route; answer in Anthropic's shape and close.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const { status, message } = describeClientError((err as { code?: string }).code);
      const body = JSON.stringify(errorBody(status === 408 ? 'timeout_error' : 'invalid_request_error', message));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
  });

  // Any answer sent before its request body arrived (a bad token on the proxy or the approval API,
  // an unknown connection, the audit gate) closes the connection: otherwise Node reads and discards
  // the rest of the body to keep the connection alive, and anyone could make Sluice read 300 MB.
  logAccess(app);
  app.addHook('onSend', (req, reply, payload, done) => {
    if (!req.raw.complete) reply.header('connection', 'close');
    done(null, payload);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = methodsFor(path);
    const err =
      allowed.length > 0
        ? new SluiceError('SLUICE_ERR_METHOD', `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}`)
        : new SluiceError('SLUICE_ERR_NOT_FOUND', `no route ${req.method} ${path} on this gateway`);
    if (allowed.length > 0) reply.header('allow', allowed.join(', '));
    sendError(reply, err);
  });
  app.setErrorHandler((err: unknown, req, reply) => {
    const sluiceErr = toSluiceError(err);
    if (sluiceErr.status >= 500) req.log.error({ err }, 'request failed');
    sendError(reply, sluiceErr);
  });

  const metrics = new RequestMetrics();
  // Before every plugin, so its hook runs ahead of each authentication hook.
  registerPreAuthLimits(app, config.rateLimits, (limit) => metrics.refused(limit));
  const metricsToken = config.metrics.tokenEnv === undefined ? undefined : process.env[config.metrics.tokenEnv];
  if (config.metrics.tokenEnv !== undefined && !metricsToken) {
    throw new ConfigError([`metrics.tokenEnv: environment variable ${config.metrics.tokenEnv} is not set`]);
  }
  app.register(opsPlugin, {
    policies: deps.policies,
    connections: deps.connections,
    audit: deps.audit,
    metrics,
    ...(metricsToken ? { metricsToken } : {}),
    budgets: { usage: deps.usage, count: config.metrics.budgetKeys },
  });
  if (deps.devIssuer) app.register(devIssuerRoutes, { prefix: '/dev-issuer', issuer: deps.devIssuer });
  if (config.console.enabled) {
    const login = new OidcLogin(
      {
        issuer: config.console.issuer ?? config.identity.issuer!,
        clientId: config.console.clientId,
        scope: config.console.scope,
      },
      deps.verifier,
    );
    app.register(consolePlugin, {
      prefix: '/sluice/console',
      login,
      approvals: deps.approvals.service,
      sessions: deps.sessions,
      adminGroups: config.sessions.adminGroups,
      connections: config.connections.map((c) => c.name),
      auditFile: config.audit.file.path,
      sessionTtlSeconds: config.console.sessionTtlSeconds,
      signIns: deps.consoleSignIns,
      redirectUrl: config.console.redirectUrl,
      plainHttpLoopback: isLoopback(config.listen.host),
      usage: deps.usage,
    });
  }
  app.register(apiPlugin, {
    prefix: '/sluice/api',
    verifier: deps.verifier,
    approvals: deps.approvals.service,
    sessions: deps.sessions,
    adminGroups: config.sessions.adminGroups,
    usage: deps.usage,
  });
  const hashKey = loadHashKey(config.masking.hashKeyEnv, process.env);
  if (hashKey.generated)
    app.log.warn(`masking: ${config.masking.hashKeyEnv} is not set; hash-style masks use a random key until restart`);
  // With telemetry.otlp, each finished call also becomes spans and OTLP metrics (after the fact, off the path).
  const telemetry = deps.telemetry;
  if (telemetry) app.addHook('onClose', async () => telemetry.shutdown());
  const observer = telemetry
    ? {
        observe(call: ExchangeSummary): void {
          metrics.observe(call);
          telemetry.observe(call);
        },
      }
    : metrics;
  const proxyDeps = {
    // What the inspect stage does with a block type it does not know (config inspect.unknownBlocks).
    unknownBlocks: config.inspect.unknownBlocks,
    metrics: observer,
    verifier: deps.verifier,
    policies: deps.policies,
    connections: deps.connections,
    audit: deps.audit,
    auditDurability: config.audit.durability,
    bodyLimit: config.limits.bodyBytes,
    responseBytes: config.limits.responseBytes,
    approvals: deps.approvals,
    sessions: deps.sessions,
    batchRequests: deps.batchRequests,
    ownership: deps.ownership,
    unknownObjects: config.ownership.unknownObjects,
    // On disk under stateDir, not the OS temp dir, which may be a tmpfs held in memory.
    files: { ...config.files, spoolDir: join(config.stateDir, 'uploads') },
    maskHashKey: hashKey.key,
    placeholderNumbering: new SessionNumberings(hashKey.key),
    usage: deps.usage,
    prices: new PriceTable(Object.fromEntries(config.pricing.models.map(({ prefix, ...price }) => [prefix, price]))),
  };
  app.register(proxyPlugin, proxyDeps);
  app.register(proxyPlugin, { ...proxyDeps, prefix: '/c/:connection' });
  return app;
}
