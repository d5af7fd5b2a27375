import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SluiceError, sendError, toSluiceError } from '../errors.ts';
import type { Identity, TokenVerifier } from '../identity/identity.ts';
import { extractBearerToken } from '../identity/token-verifier.ts';
import { grantRoutes } from './grant-routes.ts';
import type { SessionService } from './session-service.ts';
import { sessionRoutes } from './session-routes.ts';
import type { ApprovalService } from '../approvals/approval-service.ts';
import { approvalRoutes } from './approval-routes.ts';

/** What the approver/admin REST API needs. */
export interface ApiDeps {
  readonly verifier: TokenVerifier;
  readonly approvals: ApprovalService;
  readonly sessions: SessionService;
  readonly adminGroups: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller of /sluice/api (same OIDC bearer tokens as the proxy). */
    apiIdentity?: Identity;
  }
}

/** The caller of an API route; the onRequest hook guarantees it is set. */
export function caller(req: FastifyRequest): Identity {
  if (!req.apiIdentity) throw new SluiceError('SLUICE_ERR_AUTH_MISSING');
  return req.apiIdentity;
}

/**
 * preValidation for actions that take no body (revoke): none or `{}`. A field is refused, not
 * ignored: a caller who sent `{"reason": …}` must not believe it was recorded.
 */
export async function refuseBodyFields(req: FastifyRequest): Promise<void> {
  const body: unknown = req.body;
  if (body === undefined || body === null) return;
  const fields = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : undefined;
  if (fields === undefined) throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'this action takes no body');
  if (fields.length > 0) {
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `this action takes no body fields; got ${fields.join(', ')}`);
  }
}

/**
 * The approver and admin REST API under /sluice/api, as one encapsulated plugin: its own auth
 * hook and error handler, nothing leaks into the proxy routes. Bearer tokens only, never
 * cookies, so no request can be forged cross-site (the console has its own CSRF-protected forms).
 */
export async function apiPlugin(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.addHook('onRequest', async (req) => {
    req.apiIdentity = await deps.verifier.verify(extractBearerToken(req.headers.authorization));
  });
  app.setErrorHandler(async (err: unknown, req, reply) => {
    const sluiceErr = toSluiceError(err);
    if (sluiceErr.status >= 500) req.log.error({ err }, 'access API failed');
    sendError(reply, sluiceErr);
  });
  app.get('/me', async (req) => {
    const who = caller(req);
    return { sub: who.sub, groups: who.groups, admin: who.groups.some((g) => deps.adminGroups.includes(g)) };
  });
  await app.register(approvalRoutes, { approvals: deps.approvals, prefix: '/approvals' });
  await app.register(sessionRoutes, { sessions: deps.sessions, adminGroups: deps.adminGroups, prefix: '/sessions' });
  await app.register(grantRoutes, { grants: deps.sessions.grants, prefix: '/grants' });
}
