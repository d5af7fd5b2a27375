/**
 * Discovery, JWKS fetching, IdP outages and key rotation, against a real HTTP issuer (TestIdp)
 * that misbehaves on demand. IdP-side trouble must fail closed as 503 SLUICE_ERR_IDP_UNAVAILABLE
 * (the token may be fine; the client should retry), never as 401, and must not be cached.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OidcKeySource, validateDiscoveryDocument } from '../../../gateway/identity/oidc-discovery.ts';
import { OidcTokenVerifier } from '../../../gateway/identity/token-verifier.ts';
import type { IdentityConfig } from '../../../gateway/identity/identity-config.ts';
import { generateIdpKey, identityConfigFor, TestIdp, type IdpMode } from '../../helpers/test-idp.ts';
import { expectSluiceError } from './expect-sluice-error.ts';

const SLOW_MS = 1500;
let idp: TestIdp;

beforeEach(async () => {
  idp = await TestIdp.start({ slowDelayMs: SLOW_MS });
});
afterEach(async () => {
  vi.useRealTimers();
  await idp.close();
});

const verifierFor = (overrides: Partial<IdentityConfig> = {}): OidcTokenVerifier =>
  new OidcTokenVerifier(identityConfigFor(idp, overrides));

describe('discovery document', () => {
  it('refuses a discovery document that names a different issuer, without fetching its JWKS', async () => {
    idp.discoveryOverrides = { issuer: 'https://evil.example/issuer' };
    await expectSluiceError(
      verifierFor().verify(await idp.mint()),
      'SLUICE_ERR_IDP_UNAVAILABLE',
      /^identity provider unavailable: discovery document names a different issuer$/,
    );
    expect(idp.requests).toEqual({ discovery: 1, jwks: 0 });
  });

  it('refuses a jwks_uri on plain http to a non-loopback host', async () => {
    idp.discoveryOverrides = { jwks_uri: 'http://keys.example.com/jwks' };
    await expectSluiceError(
      verifierFor().verify(await idp.mint()),
      'SLUICE_ERR_IDP_UNAVAILABLE',
      /jwks_uri must be an https URL \(http only on loopback\)/,
    );
    expect(idp.requests.jwks).toBe(0);
  });

  it('validates the document shape: not an object, or no jwks_uri, is refused', () => {
    expect(() => validateDiscoveryDocument([], idp.issuer)).toThrow(/discovery document is not a JSON object/);
    expect(() => validateDiscoveryDocument({ issuer: idp.issuer }, idp.issuer)).toThrow(
      /jwks_uri must be an https URL/,
    );
  });

  it('fetches discovery once and reuses it while fresh', async () => {
    const verifier = verifierFor();
    await verifier.verify(await idp.mint());
    await verifier.verify(await idp.mint({}, { alg: 'ES256' }));
    expect(idp.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  it('shares one discovery and one JWKS fetch among concurrent first requests', async () => {
    const verifier = verifierFor();
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => idp.mint({ sub: `user-${i}` })));
    const identities = await Promise.all(tokens.map((token) => verifier.verify(token)));
    expect(identities.map((identity) => identity.sub)).toEqual(tokens.map((_, i) => `user-${i}`));
    expect(idp.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  it('skips discovery when jwksUri is configured', async () => {
    const identity = await verifierFor({ jwksUri: idp.jwksUri }).verify(await idp.mint({ sub: 'direct' }));
    expect(identity.sub).toBe('direct');
    expect(idp.requests).toEqual({ discovery: 0, jwks: 1 });
  });

  it('refuses an issuer or jwksUri that is plain http off loopback at construction', () => {
    const options = { timeoutMs: 400, cacheMaxAgeSeconds: 600, cooldownSeconds: 0 };
    expect(() => new OidcKeySource({ ...options, issuer: 'http://idp.example.com' })).toThrow(
      /issuer must be an https URL/,
    );
    expect(() => new OidcKeySource({ ...options, issuer: 'https://idp.example.com', jwksUri: 'ftp://x/jwks' })).toThrow(
      /jwksUri must be an https URL/,
    );
  });
});

describe('IdP outages fail closed with 503 and recover', () => {
  const outages: [string, 'discovery' | 'jwks', IdpMode, boolean, RegExp][] = [
    ['discovery returns 503', 'discovery', 'down', false, /discovery returned HTTP 503/],
    ['discovery drops the connection', 'discovery', 'down', true, /discovery request failed/],
    ['discovery is too slow', 'discovery', 'slow', false, /discovery request timed out/],
    ['discovery returns garbage', 'discovery', 'garbage', false, /discovery document is not JSON/],
    ['JWKS returns 503', 'jwks', 'down', false, /JWKS could not be fetched/],
    ['JWKS drops the connection', 'jwks', 'down', true, /JWKS could not be fetched/],
    ['JWKS is too slow', 'jwks', 'slow', false, /JWKS request timed out/],
    ['JWKS returns garbage', 'jwks', 'garbage', false, /JWKS could not be fetched/],
  ];

  it.each(outages)(
    '%s: 503 IDP_UNAVAILABLE, then verifies once the IdP is back',
    async (_name, target, mode, closeConnection, message) => {
      const verifier = verifierFor({ discoveryTimeoutMs: 400 });
      idp.setMode(mode, { target, closeConnection });
      const token = await idp.mint({ sub: 'patient' });
      const started = performance.now();
      const err = await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_IDP_UNAVAILABLE', message, token);
      expect(err.message).toMatch(/^identity provider unavailable: /);
      expect(err.type).toBe('api_error');
      // A slow IdP costs one timeout, not the IdP's whole delay.
      expect(performance.now() - started).toBeLessThan(SLOW_MS - 300);
      expect(idp.requests[target]).toBe(1);

      idp.setMode('ok');
      await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'patient' });
      // The failure was not cached: the endpoint was asked again.
      expect(idp.requests[target]).toBe(2);
    },
  );

  it('keeps verifying with cached keys while the JWKS endpoint is down', async () => {
    const verifier = verifierFor();
    await verifier.verify(await idp.mint());
    idp.setMode('down');
    await expect(verifier.verify(await idp.mint({ sub: 'cached' }))).resolves.toMatchObject({ sub: 'cached' });
  });

  it('answers an unknown kid during a JWKS outage with 503, not 401 (it may be a new key)', async () => {
    const verifier = verifierFor();
    await verifier.verify(await idp.mint());
    idp.setMode('down', { target: 'jwks' });
    const token = await idp.mint({}, { kid: 'rotated-in-during-outage' });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_IDP_UNAVAILABLE', /JWKS could not be fetched/);
  });

  it('keeps the last good discovery document when discovery fails after it went stale', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = verifierFor({ jwksCacheMaxAgeSeconds: 600 });
    await verifier.verify(await idp.mint());
    idp.setMode('down', { target: 'discovery' });
    vi.setSystemTime(Date.now() + 601_000);
    await expect(verifier.verify(await idp.mint({ sub: 'stale-ok' }))).resolves.toMatchObject({ sub: 'stale-ok' });
    expect(idp.requests).toEqual({ discovery: 2, jwks: 2 });
  });
});

describe('key rotation', () => {
  it('verifies a token with a newly added kid after one refetch; the old kid keeps working', async () => {
    const verifier = verifierFor({ jwksCooldownSeconds: 0 });
    const oldToken = await idp.mint({ sub: 'old-key' });
    await verifier.verify(oldToken);
    expect(idp.requests.jwks).toBe(1);

    const added = await idp.addKey('RS256');
    const newToken = await idp.mint({ sub: 'new-key' });
    expect(newToken.split('.')[0]).toBe(
      Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: added.kid })).toString('base64url'),
    );
    await expect(verifier.verify(newToken)).resolves.toMatchObject({ sub: 'new-key' });
    expect(idp.requests.jwks).toBe(2);
    await expect(verifier.verify(oldToken)).resolves.toMatchObject({ sub: 'old-key' });
    expect(idp.requests.jwks).toBe(2);
  });

  it('respects the cooldown: no refetch for an unknown kid until it has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = verifierFor({ jwksCooldownSeconds: 30 });
    await verifier.verify(await idp.mint());
    await idp.addKey('ES256');
    const token = await idp.mint({ sub: 'rotated' }, { alg: 'ES256' });

    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/);
    vi.setSystemTime(Date.now() + 20_000);
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/);
    expect(idp.requests.jwks).toBe(1);

    vi.setSystemTime(Date.now() + 11_000);
    await expect(verifier.verify(await idp.mint({ sub: 'rotated' }, { alg: 'ES256' }))).resolves.toMatchObject({
      sub: 'rotated',
    });
    expect(idp.requests.jwks).toBe(2);
  });

  it('a new key under the same kid: a failed signature with a cached key refetches the JWKS once', async () => {
    const verifier = verifierFor({ jwksCooldownSeconds: 0 });
    await verifier.verify(await idp.mint({ sub: 'before' }));
    expect(idp.requests.jwks).toBe(1);
    await idp.replaceKeyKeepingKid('RS256');
    await expect(verifier.verify(await idp.mint({ sub: 'after-restart' }))).resolves.toMatchObject({
      sub: 'after-restart',
    });
    expect(idp.requests.jwks).toBe(2);
  });

  it('a new key under the same kid with the default cooldown: the first call after the restart succeeds', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = verifierFor({ jwksCooldownSeconds: 30 });
    await verifier.verify(await idp.mint({ sub: 'before' }));
    vi.setSystemTime(Date.now() + 31_000);
    await idp.replaceKeyKeepingKid('RS256');
    await expect(verifier.verify(await idp.mint({ sub: 'after-restart' }))).resolves.toMatchObject({
      sub: 'after-restart',
    });
    expect(idp.requests.jwks).toBe(2);
  });

  it('a call that failed on the old key after another call refetched retries with the new key, no fetch', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const source = new OidcKeySource({
      issuer: idp.issuer,
      timeoutMs: 2000,
      cacheMaxAgeSeconds: 600,
      cooldownSeconds: 30,
    });
    // The next getKey answer is held until released: that call checks its signature with the key
    // it got after the other call has already reloaded the set (the cooldown is running by then).
    let holding: { taken: () => void; released: Promise<void> } | undefined;
    const keys = {
      getKey: async (...args: Parameters<OidcKeySource['getKey']>) => {
        const key = await source.getKey(...args);
        const hold = holding;
        holding = undefined;
        hold?.taken();
        await hold?.released;
        return key;
      },
      refreshAfterSignatureFailure: source.refreshAfterSignatureFailure.bind(source),
    } as unknown as OidcKeySource;
    const verifier = new OidcTokenVerifier(identityConfigFor(idp, { jwksCooldownSeconds: 30 }), keys);
    await verifier.verify(await idp.mint({ sub: 'before' }));
    vi.setSystemTime(Date.now() + 31_000);
    await idp.replaceKeyKeepingKid('RS256');
    const [lateToken, firstToken] = [await idp.mint({ sub: 'late' }), await idp.mint({ sub: 'first' })];
    let release!: () => void;
    const taken = new Promise<void>((taken) => {
      holding = { taken, released: new Promise((resolve) => (release = resolve)) };
    });
    const late = verifier.verify(lateToken);
    await taken; // `late` holds the old key
    await expect(verifier.verify(firstToken)).resolves.toMatchObject({ sub: 'first' });
    expect(idp.requests.jwks).toBe(2);
    release();
    await expect(late).resolves.toMatchObject({ sub: 'late' });
    expect(idp.requests.jwks).toBe(2);
  });

  it('a forged signature under a known kid refetches at most once per cooldown and stays a 401', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = verifierFor({ jwksCooldownSeconds: 30 });
    await verifier.verify(await idp.mint());
    const attacker = await generateIdpKey('RS256');
    const forged = (sub: string) => idp.mint({ sub }, { kid: idp.keys.RS256.kid, key: attacker.privateKey });
    vi.setSystemTime(Date.now() + 31_000);
    await expectSluiceError(
      verifier.verify(await forged('f1')),
      'SLUICE_ERR_AUTH_INVALID',
      /signature verification failed/,
    );
    expect(idp.requests.jwks).toBe(2);
    for (const sub of ['f2', 'f3', 'f4']) {
      await expectSluiceError(
        verifier.verify(await forged(sub)),
        'SLUICE_ERR_AUTH_INVALID',
        /signature verification failed/,
      );
    }
    expect(idp.requests.jwks).toBe(2);
  });

  it('refuses a key the IdP has removed, once the JWKS has been refetched (no verified-token cache)', async () => {
    const verifier = verifierFor({ jwksCooldownSeconds: 0, verifiedTokenCacheSeconds: 0 });
    const retiredToken = await idp.mint({ sub: 'retired' });
    await verifier.verify(retiredToken);
    await idp.rotateKeys();
    await verifier.verify(await idp.mint({ sub: 'current' })); // unknown kid → refetch → old key gone
    expect(idp.requests.jwks).toBe(2);
    await expectSluiceError(verifier.verify(retiredToken), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/, retiredToken);
  });
});
