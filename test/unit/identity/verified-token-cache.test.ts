/**
 * The verified-token cache: a token verified once is served from memory for
 * identity.verifiedTokenCacheSeconds, never past its expiry, and only for the exact same bytes.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { OidcTokenVerifier } from '../../../gateway/identity/token-verifier.ts';
import { identityConfigFor, TestIdp } from '../../helpers/test-idp.ts';
import { expectSluiceError } from './expect-sluice-error.ts';

let idp: TestIdp;
beforeAll(async () => {
  idp = await TestIdp.start();
});
afterAll(async () => idp?.close());

const now = (): number => Math.floor(Date.now() / 1000);

describe('verified-token cache', () => {
  it('serves a repeated token without another JWKS fetch, even while the IdP is down', async () => {
    const verifier = new OidcTokenVerifier(identityConfigFor(idp, { verifiedTokenCacheSeconds: 60 }));
    const token = await idp.mint({ sub: 'cached', groups: ['engineering'] });
    const first = await verifier.verify(token);
    const fetches = idp.requests.jwks;
    idp.setMode('down');
    try {
      expect(await verifier.verify(token)).toBe(first);
      expect(idp.requests.jwks).toBe(fetches);
    } finally {
      idp.setMode('ok');
    }
  });

  it('never serves a token past its expiry (plus clock tolerance)', async () => {
    const verifier = new OidcTokenVerifier(
      identityConfigFor(idp, { verifiedTokenCacheSeconds: 60, clockToleranceSeconds: 0 }),
    );
    // exp at least a second ahead: with `now() + 1`, a token minted late in a second expired within
    // milliseconds, before a busy machine had verified it the first time.
    const token = await idp.mint({ iat: now() - 1, exp: now() + 2 });
    await verifier.verify(token);
    // The clock moves past exp instead of the test waiting for it (only Date: timers and I/O stay real).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3100 });
    onTestFinished(() => void vi.useRealTimers());
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_EXPIRED', /expired/, token);
  });

  it('a tampered copy of a cached token is verified on its own and refused', async () => {
    const verifier = new OidcTokenVerifier(identityConfigFor(idp, { verifiedTokenCacheSeconds: 60 }));
    const token = await idp.mint({ sub: 'bob', groups: ['ci'] });
    await verifier.verify(token);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, groups: ['admins'] })).toString('base64url');
    const forged = `${header}.${forgedPayload}.${signature}`;
    await expectSluiceError(verifier.verify(forged), 'SLUICE_ERR_AUTH_INVALID', /signature/, forged);
  });

  it('a key the IdP withdraws stops working once the cache entry lapses', async () => {
    const verifier = new OidcTokenVerifier(
      identityConfigFor(idp, { verifiedTokenCacheSeconds: 1, jwksCooldownSeconds: 0 }),
    );
    const token = await idp.mint({ sub: 'retired' });
    await verifier.verify(token);
    await idp.rotateKeys();
    await verifier.verify(await idp.mint({ sub: 'current' })); // refetches the JWKS without the old key
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'retired' }); // still cached
    // The sleep is the test: the 1 s cache entry must lapse, and lru-cache's TTL clock (performance.now,
    // bound when the module loads) cannot be faked.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /unknown kid/, token);
  });
});
