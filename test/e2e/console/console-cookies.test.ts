/**
 * The console's cookies carry `Secure` whenever the browser speaks https: behind a
 * TLS-terminating proxy that Sluice trusts (listen.trustProxy, X-Forwarded-Proto), and always
 * when Sluice listens beyond loopback. Only a developer's plain-http loopback gets cookies
 * without it (a browser would drop Secure cookies sent over http://127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { startOidcProvider, type RunningOidcProvider } from '../../helpers/oidc-provider-idp.ts';

const AUDIENCE = 'sluice';
let op: RunningOidcProvider;
let direct: Harness;
let proxied: Harness;
beforeAll(async () => {
  // A real OpenID provider: the console's sign-in starts with its discovery document.
  op = await startOidcProvider({ audience: AUDIENCE, consoleRedirectUris: [], people: {}, services: {} });
  const identity = { issuer: op.issuer, audience: AUDIENCE };
  [direct, proxied] = await Promise.all([
    startHarness({ identity, console: { enabled: true } }),
    startHarness({ identity, console: { enabled: true }, listen: { trustProxy: '127.0.0.1' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([direct?.close(), proxied?.close()]);
  await op?.close();
});

/** The sign-in cookie the console sets when a browser starts signing in. */
async function loginCookie(h: Harness, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${h.url}/sluice/console/login`, { headers, redirect: 'manual' });
  expect(res.status).toBe(302);
  const cookie = res.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/^sluice_login=/);
  return cookie;
}

describe('console cookies', () => {
  it('plain http on loopback: HttpOnly and SameSite, not Secure', async () => {
    const cookie = await loginCookie(direct);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
  });

  it(
    'behind a trusted TLS-terminating proxy (X-Forwarded-Proto: https): ' + 'Secure, and the redirect is https',
    async () => {
      const res = await fetch(`${proxied.url}/sluice/console/login`, {
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'sluice.example.com' },
        redirect: 'manual',
      });
      expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
      const authorize = new URL(res.headers.get('location')!);
      expect(authorize.searchParams.get('redirect_uri')).toBe('https://sluice.example.com/sluice/console/callback');
    },
  );

  it('an X-Forwarded-Proto from a proxy Sluice does not trust changes nothing', async () => {
    expect(await loginCookie(direct, { 'x-forwarded-proto': 'https' })).not.toMatch(/Secure/);
  });
});
