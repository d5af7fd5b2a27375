import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApprovalService } from '../access/approval-service.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { SessionService } from '../access/session-service.ts';
import { approvalsPage } from './approval-pages.ts';
import { readExchanges } from './audit-reader.ts';
import { ConsoleSessions, type ConsoleSession, type ConsoleSignInStore } from './console-sessions.ts';
import { formFields } from './form-fields.ts';
import { grantPages } from './grant-console-routes.ts';
import { esc, layout, PAGE_HEADERS } from './html.ts';
import type { OidcLogin } from './oidc-login.ts';
import { replayPage, sessionExchangesPage, sessionsPage } from './session-pages.ts';
import { usagePages } from './usage-pages.ts';
import type { UsageStore } from '../usage/usage-store.ts';
import { isSessionAdmin, mayAccessOwned, mayDecide, visibleOrNotFound } from '../access/authorize.ts';

/** What the console needs; the same services the REST API uses. */
export interface ConsoleDeps {
  readonly login: OidcLogin;
  readonly approvals: ApprovalService;
  readonly sessions: SessionService;
  readonly adminGroups: readonly string[];
  /** Configured connection names, offered when requesting an access grant. */
  readonly connections: readonly string[];
  readonly auditFile: string;
  readonly sessionTtlSeconds: number;
  /** Sign-ins in the shared state store, so any instance serves any signed-in browser. */
  readonly signIns: ConsoleSignInStore;
  /** Fixed redirect URI; otherwise derived from the request's origin. */
  readonly redirectUrl: string | undefined;
  /**
   * Sluice listens on loopback: plain-http requests are a developer's own browser, the one case
   * where a cookie may go without `Secure`. Anywhere else plain http means a TLS-terminating proxy
   * in front (the browser speaks https), so cookies are always `Secure`.
   */
  readonly plainHttpLoopback: boolean;
  /** Budget counters, for the usage page. */
  readonly usage: UsageStore;
}

const SESSION_COOKIE = 'sluice_console';
const LOGIN_COOKIE = 'sluice_login';
const BASE = '/sluice/console';

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
}

function originOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

/**
 * CSRF defence for every state-changing form: the session's synchronizer token (constant-time
 * compare), and the browser's Origin / Sec-Fetch-Site when sent. Cookies are SameSite=Lax (Strict
 * would drop the session on the redirect back from the provider) and HttpOnly.
 */
function checkCsrf(req: FastifyRequest, session: ConsoleSession): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== originOf(req))
    throw new SluiceError('SLUICE_ERR_CSRF', `form posted from another origin (${origin})`);
  if (req.headers['sec-fetch-site'] === 'cross-site')
    throw new SluiceError('SLUICE_ERR_CSRF', 'cross-site form post refused');
  if (!ConsoleSessions.csrfMatches(session, (req.body as Record<string, unknown> | undefined)?._csrf))
    throw new SluiceError('SLUICE_ERR_CSRF');
}

/**
 * The approver console, one encapsulated plugin at /sluice/console: OIDC sign-in (code + PKCE),
 * pending approvals with approve/deny and comment, access grants (request, decide, revoke),
 * sessions with revoke, session replay from the audit file, usage per budget key. Server-rendered; only the
 * usage page runs a script (its chart, from the console's own origin).
 */
export async function consolePlugin(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  const sessions = new ConsoleSessions(deps.signIns, deps.sessionTtlSeconds * 1000);
  const isAdmin = (s: ConsoleSession): boolean => isSessionAdmin(s.identity, deps.adminGroups);
  const mayAccess = (s: ConsoleSession, record: { subject: string }): boolean =>
    mayAccessOwned(s.identity, record, deps.adminGroups);
  // req.protocol follows X-Forwarded-Proto when listen.trustProxy trusts the proxy.
  const secure = (req: FastifyRequest): boolean => req.protocol === 'https' || !deps.plainHttpLoopback;
  // Set and cleared with the same attributes: a cleared cookie is as Secure as the one it replaces.
  const cookieOptions = (req: FastifyRequest, path: string) => ({
    path,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: secure(req),
  });
  const page = (reply: FastifyReply, title: string, body: string, s: ConsoleSession, status = 200) =>
    reply
      .code(status)
      .headers(PAGE_HEADERS)
      .send(layout(title, body, { sub: s.identity.sub, csrf: s.csrfToken }));

  app.addHook('preHandler', async (req, reply) => {
    const open = ['/login', '/callback'].some((p) => req.routeOptions.url === `${BASE}${p}`);
    if (open) return;
    req.consoleSession = await sessions.get(req.cookies[SESSION_COOKIE]);
    if (!req.consoleSession) {
      if (req.method === 'GET') return reply.redirect(`${BASE}/login`);
      throw new SluiceError('SLUICE_ERR_AUTH_MISSING', 'sign in to the console first');
    }
    if (req.method === 'POST') checkCsrf(req, req.consoleSession);
  });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    // The same mapping as every other route; the console shows it as a page rather than JSON.
    const e = toSluiceError(err);
    if (e.status >= 500) req.log.error({ err }, 'console request failed');
    const page =
      `<p class="error" data-code="${esc(e.code)}">${esc(e.message)}</p>` +
      `<p><a href="${BASE}/approvals">Back</a></p>`;
    return reply.code(e.status).headers(PAGE_HEADERS).send(layout('Refused', page));
  });

  app.get('/login', async (req, reply) => {
    const redirectUri = deps.redirectUrl ?? `${originOf(req)}${BASE}/callback`;
    const { url, pending } = await deps.login.start(redirectUri);
    await sessions.addLogin(pending);
    // Binds the login to this browser: a callback carrying someone else's state is refused.
    reply.setCookie(LOGIN_COOKIE, pending.state, { ...cookieOptions(req, `${BASE}/callback`), maxAge: 600 });
    return reply.redirect(url.href);
  });

  app.get('/callback', async (req, reply) => {
    const state = (req.query as { state?: string }).state;
    const pending = state && req.cookies[LOGIN_COOKIE] === state ? await sessions.takeLogin(state) : undefined;
    if (!pending)
      throw new SluiceError(
        'SLUICE_ERR_CSRF',
        'sign-in state missing, expired or not started in this browser; start again',
      );
    const callbackUrl = new URL(req.url, pending.redirectUri);
    const { identity, expiresAt } = await deps.login.finish(callbackUrl, pending);
    const session = await sessions.open(identity, expiresAt);
    reply.clearCookie(LOGIN_COOKIE, cookieOptions(req, `${BASE}/callback`));
    const maxAge = Math.floor((session.expiresAt - Date.now()) / 1000);
    reply.setCookie(SESSION_COOKIE, session.id, { ...cookieOptions(req, BASE), maxAge });
    return reply.redirect(`${BASE}/approvals`);
  });

  app.post('/logout', async (req, reply) => {
    formFields(req, []);
    await sessions.close(req.consoleSession!.id);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(req, BASE));
    return reply.redirect(`${BASE}/login`, 303);
  });

  app.get('/', async (_req, reply) => reply.redirect(`${BASE}/approvals`));

  app.get('/approvals', async (req, reply) => {
    const s = req.consoleSession!;
    const list = await deps.approvals.visibleTo(s.identity);
    const notice = (req.query as { done?: string }).done;
    return page(
      reply,
      'Approvals',
      approvalsPage(
        list,
        (id) => deps.approvals.previewOf(id),
        (a) => mayDecide(s.identity, a),
        s.csrfToken,
        notice,
      ),
      s,
    );
  });

  app.post('/approvals/:id/decide', async (req, reply) => {
    const { id } = req.params as { id: string };
    const { verdict, comment } = formFields(req, ['verdict', 'comment']);
    if (verdict !== 'approve' && verdict !== 'deny')
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'verdict must be approve or deny');
    if (!comment?.trim() || comment.length > 2000)
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'a comment (up to 2000 characters) is required');
    const decided = await deps.approvals.decide(id, req.consoleSession!.identity, verdict, comment.trim());
    return reply.redirect(`${BASE}/approvals?done=${encodeURIComponent(`${decided.id} ${decided.state}`)}`, 303);
  });

  grantPages(app, { grants: deps.sessions.grants, connections: deps.connections, isAdmin, page });
  usagePages(app, { usage: deps.usage, adminGroups: deps.adminGroups, isAdmin });

  app.get('/sessions', async (req, reply) => {
    const s = req.consoleSession!;
    const all = (await deps.sessions.list()).filter((x) => mayAccess(s, x));
    return page(reply, 'Sessions', sessionsPage(all, s.csrfToken), s);
  });

  app.post('/sessions/:id/revoke', async (req, reply) => {
    formFields(req, []);
    const s = req.consoleSession!;
    const { id } = req.params as { id: string };
    visibleOrNotFound(await deps.sessions.store.get(id), (x) => mayAccess(s, x), `no session ${id}`);
    await deps.sessions.revoke(id, s.identity.sub);
    return reply.redirect(`${BASE}/sessions`, 303);
  });

  app.get('/sessions/:id', async (req, reply) => {
    const s = req.consoleSession!;
    const { id } = req.params as { id: string };
    visibleOrNotFound(await deps.sessions.store.get(id), (x) => mayAccess(s, x), `no session ${id}`);
    return page(
      reply,
      `Session ${id}`,
      sessionExchangesPage(await readExchanges(deps.auditFile, { sessionId: id })),
      s,
    );
  });

  app.get('/replay/:decisionId', async (req, reply) => {
    const s = req.consoleSession!;
    const { decisionId } = req.params as { decisionId: string };
    const exchange = (await readExchanges(deps.auditFile, { decisionId })).get(decisionId);
    const subject = exchange?.decision?.subject ?? exchange?.record?.subject ?? '';
    const visible = visibleOrNotFound(exchange, () => mayAccess(s, { subject }), `no recorded exchange ${decisionId}`);
    return page(reply, `Replay ${decisionId}`, replayPage(visible), s);
  });
}
