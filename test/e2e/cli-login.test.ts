/**
 * People's sign-in for CLI clients against a real OpenID provider (oidc-provider): `sluice login`
 * with the device authorization grant and with code + PKCE on a loopback redirect (the person's
 * part driven in Debian chromium), the 0600 token cache, `sluice token --print` (the cached token,
 * refreshed near and after expiry, refused without a sign-in), `sluice claude configure`, and the
 * real Claude Code CLI using the configured apiKeyHelper through the gateway.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { printCachedToken } from '../../gateway/cli/token-print.ts';
import { ECHO_PREFIX } from '../../gateway/dev/mock-claude.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { CLI_CLIENT_ID, startOidcProvider, type RunningOidcProvider } from '../helpers/oidc-provider-idp.ts';
import { TestIdp } from '../helpers/test-idp.ts';
import Anthropic from '@anthropic-ai/sdk';

const run = promisify(execFile);
const SLUICE = resolve('gateway/bin/sluice.mjs');
const AUDIENCE = 'https://sluice.test/api';
/** Short enough that the default refresh margin (60 s) always refreshes, and real expiry comes soon. */
const TOKEN_TTL = 20;

let op: RunningOidcProvider;
let h: Harness;
let browser: Browser;
let ci: TestIdp;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  op = await startOidcProvider({
    audience: AUDIENCE,
    consoleRedirectUris: [],
    people: { carol: ['engineering'], dave: ['engineering'] },
    services: {},
    accessTokenTtlSeconds: TOKEN_TTL,
  });
  // People sign in with the real OpenID provider; CI jobs present GitHub Actions-shaped tokens of a second issuer.
  ci = await TestIdp.start({ audience: 'https://github.com/acme' });
  h = await startHarness({
    identity: {
      issuer: op.issuer,
      audience: AUDIENCE,
      issuers: [
        {
          name: 'github',
          issuer: ci.issuer,
          audience: ci.audience,
          claims: ['repository', 'environment'],
          groupsFrom: [{ claim: 'repository', equals: 'acme/app', groups: ['ci'] }],
        },
      ],
    },
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
  dir = await mkdtemp(join(tmpdir(), 'sluice-login-'));
  // A stand-in xdg-open on PATH records what `sluice login --browser` asked it to open.
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > "${dir}/opened-url"\n`, {
    mode: 0o755,
  });
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('SLUICE_') && !k.startsWith('ANTHROPIC_') && !k.startsWith('CLAUDE_'),
    ),
  );
  env = {
    ...clean,
    HOME: join(dir, 'home'),
    XDG_CONFIG_HOME: join(dir, 'xdg'),
    PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
    DISPLAY: '',
    WAYLAND_DISPLAY: '',
  };
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
  await op?.close();
  await ci?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function sluice(args: readonly string[]): Promise<Result> {
  return run(process.execPath, [SLUICE, ...args], { env, timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );
}

/** A running `sluice login`: its stderr so far, a wait for a line, and its exit. */
function startLogin(args: readonly string[]): {
  child: ChildProcess;
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  exit: Promise<Result>;
} {
  const child = spawn(process.execPath, [SLUICE, 'login', ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exit = once(child, 'exit').then(([code]) => ({ code: code as number, stdout, stderr }));
  return {
    child,
    exit,
    waitFor: (pattern) =>
      new Promise((resolveMatch, reject) => {
        const check = (): boolean => {
          const m = stderr.match(pattern);
          if (m) resolveMatch(m);
          return Boolean(m);
        };
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          check();
        });
        void exit.then(() => check() || reject(new Error(`sluice login exited without ${pattern}: ${stderr}`)));
      }),
  };
}

/** What the gateway says to a messages call with this token as x-api-key (as Claude Code sends it). */
async function gatewayStatus(token: string): Promise<number> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The provider asks a person to consent to a native client (RFC 8252 section 8.6) every time. */
async function consent(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Authorize' }).waitFor();
  await page.click('button[autofocus]');
}

interface Cache {
  issuer: string;
  clientId: string;
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
  lifetimeSeconds?: number;
}
const readCache = async (path: string): Promise<Cache> => JSON.parse(await readFile(path, 'utf8')) as Cache;

describe('sluice login', () => {
  it('signs in with the device grant and caches the tokens 0600 under XDG_CONFIG_HOME', async () => {
    const login = startLogin(['--device', '--issuer', op.issuer, '--client-id', CLI_CLIENT_ID]);
    const [, uri, code] = await login.waitFor(/open (\S+) and enter the code (\S+)/);
    expect(uri).toBe(`${op.issuer}/device`);
    // The person's part, on another device: enter the code, confirm, sign in at the provider.
    const page = await browser.newPage();
    await page.goto(uri!);
    await page.fill('input[name=user_code]', code!);
    await page.click('button[type=submit]');
    await page.click('button[autofocus]'); // "Confirm Device"
    await page.fill('input[name=login]', 'carol');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await consent(page);
    await page.getByText('Sign-in Success').waitFor();
    await page.close();

    const done = await login.exit;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe(''); // tokens are never printed by login
    expect(done.stderr).toContain('Signed in as carol');
    const path = join(dir, 'xdg', 'sluice', 'credentials.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'xdg', 'sluice'))).mode & 0o777).toBe(0o700);
    const cache = await readCache(path);
    expect(cache).toMatchObject({ issuer: op.issuer, clientId: CLI_CLIENT_ID, lifetimeSeconds: TOKEN_TTL });
    expect(done.stderr).not.toContain(cache.accessToken);
    expect(cache.refreshToken).toEqual(expect.any(String));
    expect(cache.expiresAt! - Date.now()).toBeGreaterThan(0);
    expect(cache.expiresAt! - Date.now()).toBeLessThanOrEqual(TOKEN_TTL * 1000);
    expect(decodeJwt(cache.accessToken)).toMatchObject({ sub: 'carol', aud: AUDIENCE, groups: ['engineering'] });
  }, 60_000);

  it("serves a person's signed-in token and a CI job's token of a second issuer at once, through the SDK", async () => {
    const person = (await sluice(['token', '--print', '--min-ttl', '0'])).stdout.trim();
    const job = await ci.mint({ sub: 'repo:acme/app:environment:prod', repository: 'acme/app', environment: 'prod' });
    const sdk = (token: string) => new Anthropic({ baseURL: h.url, authToken: token, apiKey: null, maxRetries: 0 });
    const hello = (model: string) => ({ model, max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] });
    const [carol, build] = await Promise.all([
      sdk(person).messages.create(hello('claude-sonnet-4-5')),
      sdk(job).messages.create(hello('claude-haiku-4-5')),
    ]);
    expect([carol.type, build.type]).toEqual(['message', 'message']);
    const decisions = (await h.auditEvents()).filter((e) => e.kind === 'decision');
    const subjects = decisions.map((e) => (e as { subject?: string }).subject);
    expect(subjects).toContain('carol');
    expect(subjects).toContain('github:repo:acme/app:environment:prod');
    // The CI token is refused on the people issuer's rules: another repository gets no group.
    const other = await ci.mint({ sub: 'repo:acme/other:ref:main', repository: 'acme/other' });
    await expect(sdk(other).messages.create(hello('claude-haiku-4-5'))).rejects.toBeInstanceOf(
      Anthropic.PermissionDeniedError,
    );
  });

  it('prints the cached token, refreshes it within the margin and after expiry; the gateway takes each', async () => {
    const path = join(dir, 'xdg', 'sluice', 'credentials.json');
    const before = await readCache(path);
    // Margin 0: the cached token is still valid, so it is printed as it is.
    const cached = await sluice(['token', '--print', '--min-ttl', '0']);
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout).toBe(`${before.accessToken}\n`);
    expect(await gatewayStatus(before.accessToken)).toBe(200);

    // Default margin (60 s) exceeds the 20 s lifetime: the token is refreshed and the cache rewritten.
    const refreshed = await sluice(['token', '--print']);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    const second = refreshed.stdout.trim();
    expect(second).not.toBe(before.accessToken);
    const after = await readCache(path);
    expect(after.accessToken).toBe(second);
    expect(after.refreshToken).not.toBe(before.refreshToken); // rotated for a public client
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(decodeJwt(second).sub).toBe('carol');
    expect(await gatewayStatus(second)).toBe(200);

    // Real expiry: once the cached token's lifetime has passed, even margin 0 refreshes.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(after.expiresAt!), {
      timeout: (TOKEN_TTL + 5) * 1000,
      interval: 250,
    });
    const late = await sluice(['token', '--print', '--min-ttl', '0']);
    expect(late.code, late.stderr).toBe(0);
    const third = late.stdout.trim();
    expect(third).not.toBe(second);
    expect(decodeJwt(third).exp! * 1000).toBeGreaterThan(Date.now());
    expect(await gatewayStatus(third)).toBe(200);

    // Two helpers refreshing at once (two Claude Code sessions): a rotated refresh token spent twice
    // makes the provider refuse the second and revoke the sign-in; the cache lock makes them take
    // turns. In-process, so that both surely read the same refresh token before either refreshes.
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    const both = await Promise.allSettled([printCachedToken({ cache: path }), printCachedToken({ cache: path })]);
    spy.mockRestore();
    expect(both.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value))).toEqual([0, 0]);
    expect(printed).toHaveLength(2);
    for (const token of printed) expect(await gatewayStatus(token.trim())).toBe(200);
    const next = await sluice(['token', '--print']);
    expect(next.code, next.stderr).toBe(0);
  }, 90_000);

  it('fails with the login hint when there is no sign-in or the refresh is refused', async () => {
    const none = await sluice(['token', '--print', '--cache', join(dir, 'nothing.json')]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('not signed in');
    expect(none.stderr).toContain('run `sluice login`');

    // An expired token whose refresh token the provider does not know: no stale token is printed.
    const path = join(dir, 'revoked.json');
    const good = await readCache(join(dir, 'xdg', 'sluice', 'credentials.json'));
    await writeFile(path, JSON.stringify({ ...good, expiresAt: Date.now() - 1000, refreshToken: 'not-a-real-one' }), {
      mode: 0o600,
    });
    const refused = await sluice(['token', '--print', '--cache', path]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/could not refresh .*invalid_grant.*run `sluice login`/);

    // `sluice token` without --print is still the dev issuer, which refuses a configured provider.
    const mixed = await sluice(['token', '--print', '--sub', 'x']);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toContain('--print reads the sluice login cache');
  }, 60_000);

  it('signs in through the browser on a loopback redirect, opening it with xdg-open', async () => {
    const cachePath = join(dir, 'browser-credentials.json');
    const login = startLogin(['--browser', '--issuer', op.issuer, '--cache', cachePath]);
    const [, url] = await login.waitFor(/visit:\n {2}(\S+)/);
    const authorize = new URL(url!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    await vi.waitFor(async () => expect(await readFile(join(dir, 'opened-url'), 'utf8')).toBe(url));

    const page = await browser.newPage();
    await page.goto(url!);
    await page.fill('input[name=login]', 'dave');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await consent(page);
    await page.getByText('Signed in to Sluice').waitFor();
    await page.close();
    const done = await login.exit;
    expect(done.code, done.stderr).toBe(0);
    expect((await stat(cachePath)).mode & 0o777).toBe(0o600);
    const cache = await readCache(cachePath);
    expect(decodeJwt(cache.accessToken).sub).toBe('dave');
    const printed = await sluice(['token', '--print', '--min-ttl', '0', '--cache', cachePath]);
    expect(printed.stdout.trim()).toBe(cache.accessToken);
    expect(await gatewayStatus(cache.accessToken)).toBe(200);
  }, 60_000);

  it('refuses a loopback callback whose state does not match, and caches nothing', async () => {
    const cachePath = join(dir, 'forged.json');
    const login = startLogin(['--browser', '--issuer', op.issuer, '--cache', cachePath]);
    const [, url] = await login.waitFor(/visit:\n {2}(\S+)/);
    const redirect = new URL(url!).searchParams.get('redirect_uri')!;
    const forged = await fetch(`${redirect}?code=attacker-code&state=not-the-state`);
    expect(forged.status).toBe(400);
    const done = await login.exit;
    expect(done.code).toBe(1);
    expect(done.stderr).toMatch(/state/i);
    await expect(stat(cachePath)).rejects.toThrow(/ENOENT/);
  }, 60_000);
});

describe('sluice claude configure', () => {
  it('merges the helper, base URL and helper TTL into existing settings, keeping other keys', async () => {
    const settingsPath = join(dir, 'existing', 'settings.json');
    await mkdir(join(dir, 'existing'));
    await writeFile(
      settingsPath,
      JSON.stringify({ model: 'claude-sonnet-4-5', env: { FOO: 'bar' }, permissions: { allow: ['Bash(ls)'] } }),
    );
    await chmod(settingsPath, 0o640);
    const out = await sluice(['claude', 'configure', '--base-url', h.url, '--settings', settingsPath]);
    expect(out.code, out.stderr).toBe(0);
    const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as Record<string, unknown>;
    expect(settings).toEqual({
      model: 'claude-sonnet-4-5',
      permissions: { allow: ['Bash(ls)'] },
      apiKeyHelper: `${process.execPath} ${SLUICE} token --print`,
      // The cached token lives 20 s; one refresh margin earlier would be negative, so the floor (10 s).
      env: { FOO: 'bar', ANTHROPIC_BASE_URL: h.url, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '10000' },
    });
    expect((await stat(settingsPath)).mode & 0o777).toBe(0o640); // its owner's choice is kept
  });

  it('refuses to touch a settings file that is not JSON', async () => {
    const settingsPath = join(dir, 'broken-settings.json');
    await writeFile(settingsPath, '{ "model": ');
    const out = await sluice(['claude', 'configure', '--base-url', h.url, '--settings', settingsPath]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('is not valid JSON');
    expect(await readFile(settingsPath, 'utf8')).toBe('{ "model": ');
  });

  it("creates ~/.claude/settings.json 0600; Claude Code answers through Sluice with the person's token", async () => {
    const cachePath = join(dir, 'browser-credentials.json');
    const out = await sluice(['claude', 'configure', '--base-url', h.url, '--cache', cachePath]);
    expect(out.code, out.stderr).toBe(0);
    const settingsPath = join(dir, 'home', '.claude', 'settings.json');
    expect((await stat(settingsPath)).mode & 0o777).toBe(0o600);
    const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as { apiKeyHelper: string };
    expect(settings.apiKeyHelper).toBe(`${process.execPath} ${SLUICE} token --print --cache ${cachePath}`);

    const { stdout } = await run(
      'node_modules/.bin/claude',
      ['-p', 'say hello as dave', '--model', 'claude-sonnet-4-5', '--output-format', 'json'],
      { env: { ...env, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' }, timeout: 60_000 },
    ).catch((err: { stdout?: string; stderr?: string }) => {
      if (err.stdout) return { stdout: err.stdout };
      throw new Error(`claude failed without output: ${err.stderr ?? ''}`);
    });
    const result = JSON.parse(stdout) as { is_error: boolean; result: string };
    expect(result.is_error, result.result).toBe(false);
    expect(result.result.startsWith(ECHO_PREFIX)).toBe(true);
    const events = await h.auditEvents();
    const decided = events.filter((e) => e.kind === 'decision' && e.subject === 'dave');
    expect(decided.length).toBeGreaterThan(0);
  }, 90_000);
});
