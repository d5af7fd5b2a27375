import Fastify, { type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { AuditLog } from './audit/audit-log.ts';
import type { SluiceConfig } from './config.ts';
import { SluiceError, errorBody, toErrorBody } from './errors.ts';
import type { DevIssuer } from './identity/dev-issuer.ts';
import { devIssuerRoutes } from './identity/dev-issuer-routes.ts';
import type { TokenVerifier } from './identity/identity.ts';
import { opsPlugin } from './ops/ops-plugin.ts';
import type { PolicyStore } from './policy/policy-store.ts';
import { methodsFor, proxyPlugin } from './proxy/proxy-plugin.ts';
import type { ConnectionRegistry } from './upstream/connections.ts';

/** The parts buildApp composes; passed in so that nothing does I/O on import and tests inject their own. */
export interface AppDeps {
  readonly verifier: TokenVerifier;
  readonly policies: PolicyStore;
  readonly connections: ConnectionRegistry;
  readonly audit: AuditLog;
  /** Present on the embedded default: serves the dev issuer's discovery and JWKS at /dev-issuer. */
  readonly devIssuer?: DevIssuer;
}

/**
 * Builds the Fastify app from a validated config. Logs never carry tokens, keys or prompt text:
 * request logging keeps Fastify's serializers (method, url, ids) and header values are redacted.
 */
export function buildApp(config: SluiceConfig, deps: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: {
      level: config.log.level,
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'], censor: '[redacted]' },
    },
    genReqId: () => randomUUID(),
    bodyLimit: config.limits.bodyBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Malformed HTTP (duplicate Content-Length, bad Transfer-Encoding, oversized headers) never
    // reaches a route; answer it in Anthropic's shape and close, like every other refusal.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const status = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = JSON.stringify(errorBody('invalid_request_error', `malformed HTTP request (${(err as { code?: string }).code ?? 'parse error'})`));
      socket.end(`HTTP/1.1 ${status} Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    },
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = methodsFor(path);
    const err = allowed.length > 0
      ? new SluiceError('SLUICE_ERR_METHOD', `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}`)
      : new SluiceError('SLUICE_ERR_NOT_FOUND', `no route ${req.method} ${path} on this gateway`);
    if (allowed.length > 0) reply.header('allow', allowed.join(', '));
    reply.code(err.status).send(toErrorBody(err));
  });
  app.setErrorHandler((err: unknown, req, reply) => {
    const sluiceErr = err instanceof SluiceError ? err : undefined;
    const status = sluiceErr?.status ?? (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    reply.code(status).send(errorBody(sluiceErr?.type ?? (status < 500 ? 'invalid_request_error' : 'api_error'), status < 500 ? (err as Error).message : 'internal gateway error'));
  });

  app.register(opsPlugin, { policies: deps.policies, connections: deps.connections });
  if (deps.devIssuer) app.register(devIssuerRoutes, { prefix: '/dev-issuer', issuer: deps.devIssuer });
  const proxyDeps = { verifier: deps.verifier, policies: deps.policies, connections: deps.connections, audit: deps.audit, bodyLimit: config.limits.bodyBytes };
  app.register(proxyPlugin, proxyDeps);
  app.register(proxyPlugin, { ...proxyDeps, prefix: '/c/:connection' });
  return app;
}
