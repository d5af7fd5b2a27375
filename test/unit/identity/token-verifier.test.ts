/**
 * OidcTokenVerifier against a real HTTP issuer (TestIdp): what a valid token turns into, and
 * how each standard claim check refuses. Attacks live in token-attacks.test.ts, IdP failures
 * and key rotation in oidc-discovery.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBearerToken, OidcTokenVerifier } from '../../../gateway/identity/token-verifier.ts';
import { identityConfigFor, TestIdp } from '../../helpers/test-idp.ts';
import { expectSluiceError } from './expect-sluice-error.ts';

const now = (): number => Math.floor(Date.now() / 1000);

let idp: TestIdp;
let verifier: OidcTokenVerifier;

beforeAll(async () => {
  idp = await TestIdp.start();
  verifier = new OidcTokenVerifier(identityConfigFor(idp));
});
afterAll(async () => {
  await idp.close();
});

describe('valid tokens become an Identity', () => {
  it('maps an RS256 token: sub, iss, client_id, groups, scope string, jti, iat/exp', async () => {
    const sub = `user-${randomUUID()}`;
    const jti = randomUUID();
    const iat = now() - 5;
    const token = await idp.mint({
      sub,
      jti,
      iat,
      exp: iat + 600,
      client_id: 'cli-rs',
      groups: ['eng', 'oncall'],
      scope: 'messages:write  models:read ',
    });
    const identity = await verifier.verify(token);
    expect(identity).toEqual({
      sub,
      iss: idp.issuer,
      clientId: 'cli-rs',
      groups: ['eng', 'oncall'],
      scopes: ['messages:write', 'models:read'],
      tokenId: jti,
      issuedAt: iat,
      expiresAt: iat + 600,
      issuerName: 'default',
      claims: {},
    });
    expect(Object.isFrozen(identity)).toBe(true);
    expect(Object.isFrozen(identity.groups)).toBe(true);
  });

  it('maps an ES256 token: client id from azp, scopes from an `scp` array', async () => {
    const sub = `svc-${randomUUID()}`;
    const token = await idp.mint({ sub, azp: 'cli-azp', scp: ['a:read', 'b:write'], groups: ['ml'] }, { alg: 'ES256' });
    const identity = await verifier.verify(token);
    expect(identity).toMatchObject({ sub, clientId: 'cli-azp', scopes: ['a:read', 'b:write'], groups: ['ml'] });
  });

  it('prefers client_id over azp when both are present', async () => {
    const identity = await verifier.verify(await idp.mint({ client_id: 'the-client', azp: 'the-azp' }));
    expect(identity.clientId).toBe('the-client');
  });

  it('leaves optional fields empty when the token has no client, groups, scopes or jti', async () => {
    const identity = await verifier.verify(await idp.mint({ jti: undefined }));
    expect(identity).toMatchObject({ clientId: undefined, groups: [], scopes: [], tokenId: undefined });
  });

  it('reads groups from a configured claim', async () => {
    const custom = new OidcTokenVerifier(identityConfigFor(idp, { groupsClaim: 'roles' }));
    const identity = await custom.verify(await idp.mint({ roles: ['auditor'], groups: ['ignored'] }));
    expect(identity.groups).toEqual(['auditor']);
  });

  it('reads groups from a nested dotted path (Keycloak realm_access.roles)', async () => {
    const custom = new OidcTokenVerifier(identityConfigFor(idp, { groupsClaim: 'realm_access.roles' }));
    const identity = await custom.verify(await idp.mint({ realm_access: { roles: ['admin', 'dev'] } }));
    expect(identity.groups).toEqual(['admin', 'dev']);
  });

  it('prefers a claim literally named with dots (URL-style claim names) over the dotted path', async () => {
    const custom = new OidcTokenVerifier(identityConfigFor(idp, { groupsClaim: 'https://example.com/claims.groups' }));
    const identity = await custom.verify(await idp.mint({ 'https://example.com/claims.groups': ['from-url-claim'] }));
    expect(identity.groups).toEqual(['from-url-claim']);
  });

  it('ignores a groups claim that is not a list of strings (no partial groups)', async () => {
    const identity = await verifier.verify(await idp.mint({ groups: ['admin', 7, { name: 'x' }] }));
    expect(identity.groups).toEqual([]);
  });

  it('reads scopes from a configured claim holding a space-separated string', async () => {
    const custom = new OidcTokenVerifier(identityConfigFor(idp, { scopesClaim: 'scp' }));
    const identity = await custom.verify(await idp.mint({ scp: 'x:read y:write', scope: 'ignored' }));
    expect(identity.scopes).toEqual(['x:read', 'y:write']);
  });

  it('accepts a token whose aud list names the configured audience among others', async () => {
    const identity = await verifier.verify(await idp.mint({ sub: 'multi-aud', aud: ['other-api', idp.audience] }));
    expect(identity.sub).toBe('multi-aud');
  });
});

describe('time claims', () => {
  it('refuses an expired token with AUTH_EXPIRED', async () => {
    const token = await idp.mint({ iat: now() - 600, exp: now() - 300 });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_EXPIRED',
      /token expired: obtain a new token/,
      token,
    );
  });

  it('accepts a token expired by less than the clock tolerance, refuses one just past it', async () => {
    const config = identityConfigFor(idp, { clockToleranceSeconds: 30 });
    const lenient = new OidcTokenVerifier(config);
    await expect(lenient.verify(await idp.mint({ iat: now() - 100, exp: now() - 10 }))).resolves.toMatchObject({
      sub: 'alice',
    });
    await expectSluiceError(
      lenient.verify(await idp.mint({ iat: now() - 100, exp: now() - 40 })),
      'SLUICE_ERR_AUTH_EXPIRED',
      /expired/,
    );
  });

  it('refuses a token that is not yet valid (nbf beyond the tolerance)', async () => {
    const token = await idp.mint({ nbf: now() + 600 });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /^invalid token: token not yet valid \(nbf\)$/,
      token,
    );
  });

  it('refuses a token issued in the future (iat beyond the tolerance)', async () => {
    const token = await idp.mint({ iat: now() + 120, exp: now() + 400 });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /issued in the future \(iat\)/, token);
  });

  it('accepts an iat slightly ahead of the clock (skew within the tolerance)', async () => {
    const identity = await verifier.verify(await idp.mint({ iat: now() + 10, exp: now() + 300 }));
    expect(identity.issuedAt).toBeGreaterThan(now());
  });

  it('refuses a lifetime (exp - iat) above maxTokenLifetimeSeconds with AUTH_LIFETIME', async () => {
    const iat = now();
    const token = await idp.mint({ iat, exp: iat + 3601 });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_LIFETIME',
      /token lifetime 3601s exceeds the 3600s .*short-lived/,
      token,
    );
  });

  it('accepts a lifetime of exactly maxTokenLifetimeSeconds', async () => {
    const iat = now();
    const identity = await verifier.verify(await idp.mint({ iat, exp: iat + 3600 }));
    expect(identity.expiresAt - identity.issuedAt).toBe(3600);
  });

  it('judges lifetime by exp - iat, not time left: a long-lived token near its end is still refused', async () => {
    const custom = new OidcTokenVerifier(identityConfigFor(idp, { maxTokenLifetimeSeconds: 600 }));
    const token = await idp.mint({ iat: now() - 86_000, exp: now() + 60 });
    await expectSluiceError(custom.verify(token), 'SLUICE_ERR_AUTH_LIFETIME', /lifetime 86060s exceeds the 600s/);
  });

  it('refuses an exp that is not after iat', async () => {
    const token = await idp.mint({ iat: now() + 20, exp: now() + 10 });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /expiry \(exp\) is not after issued-at \(iat\)/,
    );
  });

  it.each(['exp', 'iat', 'sub', 'aud', 'iss'])('refuses a token without "%s"', async (claim) => {
    const token = await idp.mint({ [claim]: undefined });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      new RegExp(`missing required claim "${claim}"`),
      token,
    );
  });

  it('refuses a non-numeric exp', async () => {
    const token = await idp.mint({ exp: String(now() + 300) });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /invalid expiry \(exp\)/);
  });
});

describe('issuer, audience and subject', () => {
  it('refuses a token from another issuer', async () => {
    const token = await idp.mint({ iss: 'https://evil.example/issuer' });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /^invalid token: issuer mismatch$/,
      token,
    );
  });

  it('compares the issuer exactly (a trailing slash is another issuer)', async () => {
    const token = await idp.mint({ iss: `${idp.issuer}/` });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /issuer mismatch/);
  });

  it('refuses a token for another audience', async () => {
    const token = await idp.mint({ aud: ['other-api', 'yet-another'] });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /^invalid token: audience mismatch$/,
      token,
    );
  });

  it('refuses an empty or non-string sub', async () => {
    await expectSluiceError(
      verifier.verify(await idp.mint({ sub: '' })),
      'SLUICE_ERR_AUTH_INVALID',
      /invalid subject \(sub\)/,
    );
    await expectSluiceError(
      verifier.verify(await idp.mint({ sub: 42 })),
      'SLUICE_ERR_AUTH_INVALID',
      /invalid subject \(sub\)/,
    );
  });
});

describe('construction', () => {
  it('refuses an HMAC secret shorter than 32 bytes', () => {
    expect(
      () => new OidcTokenVerifier(identityConfigFor(idp, { algorithms: ['HS256'], hmacSecret: new Uint8Array(16) })),
    ).toThrow(/hmacSecret must be at least 32 bytes/);
  });

  it('refuses an algorithm list that leaves nothing usable (none, HMAC without secret)', () => {
    expect(() => new OidcTokenVerifier(identityConfigFor(idp, { algorithms: ['none', 'HS256'] }))).toThrow(
      /allows no usable algorithm/,
    );
  });
});

describe('extractBearerToken', () => {
  it.each([
    ['no header', undefined, /^missing bearer token: send an OIDC access token/],
    ['an empty header', '', /^missing bearer token: send an OIDC access token/],
    ['the Basic scheme', 'Basic YWxpY2U6c2VjcmV0', /Authorization scheme must be Bearer/],
    ['a bare token without a scheme', 'eyJhbGciOi.eyJzdWIi.c2ln', /Authorization scheme must be Bearer/],
    ['Bearer glued to the token', 'BearereyJhbGciOi.eyJzdWIi.c2ln', /Authorization scheme must be Bearer/],
    ['Bearer with nothing after it', 'Bearer', /the Bearer credential is empty/],
    ['Bearer followed only by spaces', 'Bearer    ', /the Bearer credential is empty/],
  ])('refuses %s with AUTH_MISSING', async (_name, header, message) => {
    const err = await expectSluiceError(() => extractBearerToken(header), 'SLUICE_ERR_AUTH_MISSING', message);
    if (header && header.length > 12) expect(err.message).not.toContain(header.slice(7));
    // Every refusal says where the token goes, Claude Code's settings included.
    expect(err.message).toMatch(
      /Claude Code ANTHROPIC_AUTH_TOKEN\) or as x-api-key \(SDK apiKey, Claude Code apiKeyHelper\)/,
    );
  });

  it.each([
    ['two tokens', 'Bearer aaaa.bbbb.cccc dddd.eeee.ffff'],
    ['a tab inside the value', 'Bearer aaaa.bbbb\t.cccc'],
    ['characters outside token68', 'Bearer aaaa.bbbb.cc"cc'],
  ])('refuses Bearer with %s as AUTH_INVALID', async (_name, header) => {
    await expectSluiceError(
      () => extractBearerToken(header),
      'SLUICE_ERR_AUTH_INVALID',
      /malformed Authorization header: Bearer must be followed by exactly one token/,
    );
  });

  it.each([
    ['one space', 'Bearer aaaa.bbbb.cccc'],
    ['extra spaces after the scheme (RFC 7235 1*SP)', 'Bearer    aaaa.bbbb.cccc'],
    ['surrounding whitespace', '  Bearer aaaa.bbbb.cccc  '],
    ['a lower-case scheme', 'bearer aaaa.bbbb.cccc'],
  ])('accepts %s', (_name, header) => {
    expect(extractBearerToken(header)).toBe('aaaa.bbbb.cccc');
  });
});
