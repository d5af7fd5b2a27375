/**
 * The console's access-grant forms without a browser (Fastify inject): the real console plugin
 * and GrantService over a temp state dir; only the OIDC round trip is stubbed (the browser test
 * covers it against a real provider). Checks CSRF refusal, that the service's rules hold through
 * the console (no self-approval), escaping, and request → approve → revoke.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApprovalService } from '../../../gateway/approvals/approval-service.ts';
import { FileApprovalStore } from '../../../gateway/approvals/approval-store.ts';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { consolePlugin } from '../../../gateway/console/console-plugin.ts';
import type { OidcLogin, PendingLogin } from '../../../gateway/console/oidc-login.ts';
import type { Identity } from '../../../gateway/identity/identity.ts';
import { GrantService } from '../../../gateway/sessions/grant-service.ts';
import { FileGrantStore } from '../../../gateway/sessions/grant-store.ts';
import { SessionService } from '../../../gateway/sessions/session-service.ts';
import { FileSessionStore } from '../../../gateway/sessions/session-store.ts';

const BASE = '/sluice/console';
const audit = new AuditLog([{ name: 'null', write: () => {}, flush: async () => {}, close: async () => {} }]);

let dir: string;
let app: FastifyInstance;
/** The same console as served beyond loopback (plain http there means a TLS proxy in front). */
let beyondLoopback: FastifyInstance;
let grants: GrantService;
let closeStores: () => Promise<unknown>;
/** Who the stubbed provider signs in next. */
let signingIn: Identity;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-console-grants-'));
  grants = new GrantService(FileGrantStore.open(dir), audit, { approverGroups: ['admins'], maxMinutes: 120, connections: ['anthropic', 'secondary', 'tertiary'] });
  // Stand-in for the provider round trip: any callback with the started state signs in `signingIn`.
  const login = {
    start: async (redirectUri: string) => ({ url: new URL('https://idp.invalid/authorize'), pending: { state: `st-${Math.random()}`, codeVerifier: 'v', redirectUri } }),
    finish: async (_url: URL, _pending: PendingLogin) => ({ identity: signingIn, expiresAt: Date.now() + 3_600_000 }),
  } as unknown as OidcLogin;
  const approvals = FileApprovalStore.open(dir);
  const sessions = FileSessionStore.open(dir);
  closeStores = () => Promise.all([approvals.close(), sessions.close(), grants.store.close()]);
  app = Fastify();
  const deps = {
    prefix: BASE, login, approvals: new ApprovalService(approvals, audit),
    sessions: new SessionService(sessions, audit, 900, undefined, grants),
    adminGroups: ['admins'], connections: ['anthropic', 'secondary'], auditFile: join(dir, 'audit.jsonl'), sessionTtlSeconds: 3600, redirectUrl: undefined,
  };
  await app.register(consolePlugin, { ...deps, plainHttpLoopback: true });
  beyondLoopback = Fastify();
  await beyondLoopback.register(consolePlugin, { ...deps, plainHttpLoopback: false });
});
afterAll(async () => {
  await app?.close();
  await beyondLoopback?.close();
  await closeStores?.();
  await rm(dir, { recursive: true, force: true });
});

/** A signed-in console user: their session cookie and CSRF token. */
interface Browserless { cookie: string; csrf: string }

async function signIn(sub: string, groups: string[]): Promise<Browserless> {
  signingIn = { sub, iss: 'https://idp.invalid', clientId: 'sluice-console', groups, scopes: [], tokenId: undefined, issuedAt: 0, expiresAt: 0 };
  const started = await app.inject({ method: 'GET', url: `${BASE}/login` });
  const state = started.cookies.find((c) => c.name === 'sluice_login')!.value;
  const back = await app.inject({ method: 'GET', url: `${BASE}/callback?state=${state}&code=c`, cookies: { sluice_login: state } });
  const cookie = back.cookies.find((c) => c.name === 'sluice_console')!.value;
  const page = await app.inject({ method: 'GET', url: `${BASE}/grants`, cookies: { sluice_console: cookie } });
  expect(page.statusCode).toBe(200);
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page.body)![1]! };
}

function post(as: Browserless, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: `${BASE}${path}`, cookies: { sluice_console: as.cookie }, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams(form).toString() });
}

describe('console cookies beyond loopback', () => {
  it('are Secure even on a plain-http request: a TLS-terminating proxy speaks https to the browser', async () => {
    const started = await beyondLoopback.inject({ method: 'GET', url: `${BASE}/login` });
    expect(started.cookies.find((c) => c.name === 'sluice_login')).toMatchObject({ secure: true, httpOnly: true });
    const onLoopback = await app.inject({ method: 'GET', url: `${BASE}/login` });
    expect(onLoopback.cookies.find((c) => c.name === 'sluice_login')?.secure).toBeUndefined();
  });
});

describe('console access grants (inject)', () => {
  it('refuses a grant form post without the CSRF token or from another origin', async () => {
    const gina = await signIn('gina', ['engineering']);
    const form = { connection: 'secondary', duration_minutes: '30', reason: 'INC-1' };
    const noToken = await post(gina, '/grants', form);
    expect(noToken.statusCode).toBe(403);
    expect(noToken.body).toContain('SLUICE_ERR_CSRF');
    const foreign = await post(gina, '/grants', { ...form, _csrf: gina.csrf }, { origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect(await grants.visibleTo(signingIn)).toEqual([]);
    // Decide and revoke forms go through the same check.
    expect((await post(gina, '/grants/grt_x/decide', { verdict: 'approve', comment: 'x' })).statusCode).toBe(403);
    expect((await post(gina, '/grants/grt_x/revoke', {})).statusCode).toBe(403);
    expect((await post(gina, '/grants', { ...form, connection: 'nowhere', _csrf: gina.csrf })).statusCode).toBe(400);
  });

  it('refuses self-approval, lets another approver decide, escapes text, revokes', async () => {
    // Carol is an approver herself, so only the self-approval rule can refuse her.
    const carol = await signIn('carol', ['admins']);
    const reason = '<script>alert(1)</script> INC-2';
    const requested = await post(carol, '/grants', { connection: 'secondary', duration_minutes: '30', reason, _csrf: carol.csrf });
    expect(requested.statusCode).toBe(303);
    const id = /grt_[\w-]+/.exec(decodeURIComponent(requested.headers.location as string))![0];
    expect((await grants.get(id))!.state).toBe('requested');

    const own = await app.inject({ method: 'GET', url: `${BASE}/grants`, cookies: { sluice_console: carol.cookie } });
    expect(own.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(own.body).not.toContain('<script>');
    expect(own.body).not.toContain(`/grants/${id}/decide`); // no decide form on one's own grant
    const self = await post(carol, `/grants/${id}/decide`, { verdict: 'approve', comment: 'me', _csrf: carol.csrf });
    expect(self.statusCode).toBe(403);
    expect(self.body).toContain('SLUICE_ERR_FORBIDDEN');
    expect((await grants.get(id))!.state).toBe('requested');

    const bob = await signIn('bob', ['admins']);
    expect((await app.inject({ method: 'GET', url: `${BASE}/grants`, cookies: { sluice_console: bob.cookie } })).body).toContain(`/grants/${id}/decide`);
    const approved = await post(bob, `/grants/${id}/decide`, { verdict: 'approve', comment: 'ok for INC-2', _csrf: bob.csrf });
    expect(approved.statusCode).toBe(303);
    expect(await grants.get(id)).toMatchObject({ state: 'approved', decidedBy: 'bob', comment: 'ok for INC-2' });
    expect(await grants.activeFor('carol')).toEqual(['secondary']);

    expect((await post(carol, `/grants/${id}/revoke`, { _csrf: carol.csrf })).statusCode).toBe(303);
    expect((await grants.get(id))!.state).toBe('revoked');
    expect((await post(carol, `/grants/${id}/revoke`, { _csrf: carol.csrf })).statusCode).toBe(409);
  });
});
