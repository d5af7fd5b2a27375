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
import { openTestState } from '../../helpers/test-state.ts';
import { ApprovalService } from '../../../gateway/access/approval-service.ts';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { consolePlugin } from '../../../gateway/console/console-plugin.ts';
import type { OidcLogin, PendingLogin } from '../../../gateway/console/oidc-login.ts';
import type { Identity } from '../../../gateway/identity/identity.ts';
import { GrantService } from '../../../gateway/access/grant-service.ts';
import { SessionService } from '../../../gateway/access/session-service.ts';

const BASE = '/sluice/console';
const audit = new AuditLog([{ name: 'null', write: () => {}, flush: async () => {}, close: async () => {} }]);

let dir: string;
let app: FastifyInstance;
/** The same console as served beyond loopback (plain http there means a TLS proxy in front). */
let beyondLoopback: FastifyInstance;
/** The same console on loopback behind a proxy it trusts (Fastify trustProxy, as listen.trustProxy sets it). */
let proxied: FastifyInstance;
let grants: GrantService;
let sessionService: SessionService;
let closeStores: () => Promise<unknown>;
/** Who the stubbed provider signs in next. */
let signingIn: Identity;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-console-grants-'));
  const state = await openTestState();
  grants = new GrantService(state.grants, audit, {
    approverGroups: ['admins'],
    maxMinutes: 120,
    connections: ['anthropic', 'secondary', 'tertiary'],
  });
  // Stand-in for the provider round trip: any callback with the started state signs in `signingIn`.
  const login = {
    start: async (redirectUri: string) => ({
      url: new URL('https://idp.invalid/authorize'),
      pending: { state: `st-${Math.random()}`, codeVerifier: 'v', redirectUri },
    }),
    finish: async (_url: URL, _pending: PendingLogin) => ({ identity: signingIn, expiresAt: Date.now() + 3_600_000 }),
  } as unknown as OidcLogin;
  closeStores = () => state.close();
  app = Fastify();
  const deps = {
    prefix: BASE,
    login,
    approvals: new ApprovalService(state.approvals, audit),
    sessions: (sessionService = new SessionService(state.sessions, audit, 900, { grants })),
    signIns: state.consoleSignIns,
    adminGroups: ['admins'],
    connections: ['anthropic', 'secondary'],
    auditFile: join(dir, 'audit.jsonl'),
    sessionTtlSeconds: 3600,
    redirectUrl: undefined,
    usage: state.usage,
  };
  await app.register(consolePlugin, { ...deps, plainHttpLoopback: true });
  beyondLoopback = Fastify();
  await beyondLoopback.register(consolePlugin, { ...deps, plainHttpLoopback: false });
  proxied = Fastify({ trustProxy: true });
  await proxied.register(consolePlugin, { ...deps, plainHttpLoopback: true });
});
afterAll(async () => {
  await app?.close();
  await beyondLoopback?.close();
  await proxied?.close();
  await closeStores?.();
  await rm(dir, { recursive: true, force: true });
});

/** A signed-in console user: their session cookie and CSRF token. */
interface Browserless {
  cookie: string;
  csrf: string;
}

async function signIn(sub: string, groups: string[]): Promise<Browserless> {
  signingIn = {
    sub,
    iss: 'https://idp.invalid',
    clientId: 'sluice-console',
    groups,
    scopes: [],
    tokenId: undefined,
    issuedAt: 0,
    expiresAt: 0,
  };
  const started = await app.inject({ method: 'GET', url: `${BASE}/login` });
  const state = started.cookies.find((c) => c.name === 'sluice_login')!.value;
  const back = await app.inject({
    method: 'GET',
    url: `${BASE}/callback?state=${state}&code=c`,
    cookies: { sluice_login: state },
  });
  const cookie = back.cookies.find((c) => c.name === 'sluice_console')!.value;
  const page = await app.inject({ method: 'GET', url: `${BASE}/grants`, cookies: { sluice_console: cookie } });
  expect(page.statusCode).toBe(200);
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page.body)![1]! };
}

function post(as: Browserless, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `${BASE}${path}`,
    cookies: { sluice_console: as.cookie },
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Every console cookie one sign-in and sign-out set on `target` (`headers` on each request). */
async function cookiesOfASignIn(target: FastifyInstance, headers: Record<string, string> = {}) {
  signingIn = {
    sub: 'dora',
    iss: 'https://idp.invalid',
    clientId: 'sluice-console',
    groups: [],
    scopes: [],
    tokenId: undefined,
    issuedAt: 0,
    expiresAt: 0,
  };
  const started = await target.inject({ method: 'GET', url: `${BASE}/login`, headers });
  const login = started.cookies.find((c) => c.name === 'sluice_login')!;
  const callback = `${BASE}/callback?state=${login.value}&code=c`;
  const back = await target.inject({ method: 'GET', url: callback, cookies: { sluice_login: login.value }, headers });
  const session = back.cookies.find((c) => c.name === 'sluice_console')!;
  const loginCleared = back.cookies.find((c) => c.name === 'sluice_login')!;
  const cookies = { sluice_console: session.value };
  const page = await target.inject({ method: 'GET', url: `${BASE}/grants`, cookies, headers });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const out = await target.inject({
    method: 'POST',
    url: `${BASE}/logout`,
    cookies,
    headers: { ...headers, ...FORM },
    payload: `_csrf=${csrf}`,
  });
  expect(out.statusCode).toBe(303);
  const sessionCleared = out.cookies.find((c) => c.name === 'sluice_console')!;
  return { login, session, loginCleared, sessionCleared };
}

describe('console cookies: set and cleared with the same attributes', () => {
  it('plain http on loopback: HttpOnly, SameSite=Lax, not Secure (a browser would drop them)', async () => {
    for (const cookie of Object.values(await cookiesOfASignIn(app))) {
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
      expect(cookie.secure).toBeUndefined();
    }
  });

  it('behind a trusted proxy saying X-Forwarded-Proto: https, and beyond loopback: every cookie Secure', async () => {
    const viaProxy = await cookiesOfASignIn(proxied, { 'x-forwarded-proto': 'https' });
    for (const cookies of [viaProxy, await cookiesOfASignIn(beyondLoopback)]) {
      for (const cookie of Object.values(cookies)) {
        expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax' });
      }
    }
    // The same proxy without the header: plain http on loopback still.
    expect((await cookiesOfASignIn(proxied)).session.secure).toBeUndefined();
  });
});

describe('console forms take exactly their own fields', () => {
  it('a field the form does not have is a 400: nothing requested, decided, revoked or signed out', async () => {
    const gina = await signIn('gina-extra', ['engineering']);
    const ginaIdentity = signingIn;
    const form = { connection: 'secondary', duration_minutes: '30', reason: 'INC-7', _csrf: gina.csrf };
    const extra = await post(gina, '/grants', { ...form, scope: 'all' });
    expect(extra.statusCode).toBe(400);
    expect(extra.body).toContain('unknown form field(s): scope');
    expect(await grants.visibleTo(ginaIdentity)).toEqual([]);
    const requested = await post(gina, '/grants', form);
    const id = /grt_[\w-]+/.exec(decodeURIComponent(requested.headers.location as string))![0];

    const bob = await signIn('bob', ['admins']);
    const verdict = { verdict: 'approve', comment: 'ok', _csrf: bob.csrf };
    expect((await post(bob, `/grants/${id}/decide`, { ...verdict, duration_minutes: '120' })).statusCode).toBe(400);
    expect((await grants.get(id))!.state).toBe('requested');
    const approval = await post(bob, '/approvals/apr_nope/decide', { ...verdict, ttl_seconds: '9' });
    expect(approval.statusCode).toBe(400); // refused before the approval is even looked up
    await post(bob, `/grants/${id}/decide`, verdict);
    expect((await post(gina, `/grants/${id}/revoke`, { reason: 'done', _csrf: gina.csrf })).statusCode).toBe(400);
    expect((await grants.get(id))!.state).toBe('approved');
    expect((await post(gina, '/logout', { everywhere: 'yes', _csrf: gina.csrf })).statusCode).toBe(400);
    const stillSignedIn = { sluice_console: gina.cookie };
    expect((await app.inject({ method: 'GET', url: `${BASE}/grants`, cookies: stillSignedIn })).statusCode).toBe(200);
  });

  it('a field sent twice is a 400, not a list handed to the handler', async () => {
    const bob = await signIn('bob', ['admins']);
    const twice = await app.inject({
      method: 'POST',
      url: `${BASE}/approvals/apr_nope/decide`,
      cookies: { sluice_console: bob.cookie },
      headers: FORM,
      payload: `_csrf=${encodeURIComponent(bob.csrf)}&verdict=approve&comment=a&comment=b`,
    });
    expect(twice.statusCode).toBe(400);
    expect(twice.body).toContain('form field comment sent more than once');
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
    const requested = await post(carol, '/grants', {
      connection: 'secondary',
      duration_minutes: '30',
      reason,
      _csrf: carol.csrf,
    });
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
    expect(
      (await app.inject({ method: 'GET', url: `${BASE}/grants`, cookies: { sluice_console: bob.cookie } })).body,
    ).toContain(`/grants/${id}/decide`);
    const approved = await post(bob, `/grants/${id}/decide`, {
      verdict: 'approve',
      comment: 'ok for INC-2',
      _csrf: bob.csrf,
    });
    expect(approved.statusCode).toBe(303);
    expect(await grants.get(id)).toMatchObject({ state: 'approved', decidedBy: 'bob', comment: 'ok for INC-2' });
    expect(await grants.activeFor('carol')).toEqual(['secondary']);

    expect((await post(carol, `/grants/${id}/revoke`, { _csrf: carol.csrf })).statusCode).toBe(303);
    expect((await grants.get(id))!.state).toBe('revoked');
    expect((await post(carol, `/grants/${id}/revoke`, { _csrf: carol.csrf })).statusCode).toBe(409);
  });
});

describe('console sessions', () => {
  it("answers another subject's session exactly like a missing one (404), as the API does", async () => {
    const owner: Identity = {
      sub: 'olga',
      iss: 'https://idp.invalid',
      clientId: undefined,
      groups: ['engineering'],
      scopes: [],
      tokenId: undefined,
      issuedAt: 0,
      expiresAt: 0,
    };
    const { facts } = await sessionService.enter(owner, 'anthropic');
    const carol = await signIn('carol', ['engineering']);
    const page = (as: Browserless, id: string) =>
      app.inject({ method: 'GET', url: `${BASE}/sessions/${id}`, cookies: { sluice_console: as.cookie } });
    for (const id of [facts!.id, 'ses_nope']) {
      expect((await page(carol, id)).statusCode).toBe(404);
      const revoke = await post(carol, `/sessions/${id}/revoke`, { _csrf: carol.csrf });
      expect(revoke.statusCode).toBe(404);
      expect(revoke.body).toContain('data-code="SLUICE_ERR_NOT_FOUND"');
    }
    expect((await sessionService.list()).find((x) => x.id === facts!.id)?.state).toBe('active');
    const olga = await signIn('olga', ['engineering']);
    expect((await post(olga, `/sessions/${facts!.id}/revoke`, { _csrf: olga.csrf })).statusCode).toBe(303);
    expect((await sessionService.list()).find((x) => x.id === facts!.id)?.state).toBe('revoked');
  });
});
