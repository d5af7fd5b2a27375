import type { FastifyInstance } from 'fastify';
import { sendError, toSluiceError } from '../errors.ts';
import type { TokenVerifier } from '../identity/identity.ts';
import { caller } from './api-caller.ts';
import { isSessionAdmin } from './authorize.ts';
import { extractToken } from '../identity/token-transport.ts';
import { grantRoutes } from './grant-routes.ts';
import type { SessionService } from './session-service.ts';
import { sessionRoutes } from './session-routes.ts';
import type { ApprovalService } from './approval-service.ts';
import { approvalRoutes } from './approval-routes.ts';
import { usageRoutes } from './usage-routes.ts';
import type { UsageStore } from '../usage/usage-store.ts';

/** What the approver/admin REST API needs. */
export interface ApiDeps {
  readonly verifier: TokenVerifier;
  readonly approvals: ApprovalService;
  readonly sessions: SessionService;
  readonly adminGroups: readonly string[];
  /** Budget counters, for /usage. */
  readonly usage: UsageStore;
}

/**
 * The approver and admin REST API under /sluice/api, as one encapsulated plugin: its own auth
 * hook and error handler, nothing leaks into the proxy routes. Bearer tokens only, never
 * cookies, so no request can be forged cross-site (the console has its own CSRF-protected forms).
 */
export async function apiPlugin(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.addHook('onRequest', async (req) => {
    req.apiIdentity = await deps.verifier.verify(extractToken(req.headers));
  });
  app.setErrorHandler(async (err: unknown, req, reply) => {
    const sluiceErr = toSluiceError(err);
    if (sluiceErr.status >= 500) req.log.error({ err }, 'access API failed');
    sendError(reply, sluiceErr);
  });
  app.get('/me', async (req) => {
    const who = caller(req);
    return { sub: who.sub, groups: who.groups, admin: isSessionAdmin(who, deps.adminGroups) };
  });
  await app.register(approvalRoutes, { approvals: deps.approvals, prefix: '/approvals' });
  await app.register(sessionRoutes, { sessions: deps.sessions, adminGroups: deps.adminGroups, prefix: '/sessions' });
  await app.register(grantRoutes, { grants: deps.sessions.grants, prefix: '/grants' });
  await app.register(usageRoutes, { usage: deps.usage, adminGroups: deps.adminGroups, prefix: '/usage' });
}
