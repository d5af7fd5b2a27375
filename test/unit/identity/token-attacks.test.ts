/**
 * Forged and hostile tokens against OidcTokenVerifier and a real HTTP issuer (TestIdp). Each
 * attack is paired, where it matters, with a control showing the same path accepts an honest
 * token, so a refusal cannot come from a broken test.
 */
import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcTokenVerifier } from '../../../gateway/identity/token-verifier.ts';
import { generateIdpKey, identityConfigFor, TestIdp, unsignedToken, type IdpKey } from '../../helpers/test-idp.ts';
import { expectSluiceError } from './expect-sluice-error.ts';

const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (text: string): string => Buffer.from(text).toString('base64url');

let idp: TestIdp;
let attacker: TestIdp;
let attackerKey: IdpKey;
let verifier: OidcTokenVerifier;

beforeAll(async () => {
  idp = await TestIdp.start();
  // A second live server: the attacker's own "issuer", so a fetch of its JWKS would be visible.
  attacker = await TestIdp.start();
  attackerKey = attacker.keys.RS256;
  verifier = new OidcTokenVerifier(identityConfigFor(idp));
});
afterAll(async () => {
  await Promise.all([idp.close(), attacker.close()]);
});

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: idp.issuer, aud: idp.audience, sub: 'alice', iat: now(), exp: now() + 300, ...extra };
}

describe('algorithm attacks', () => {
  it.each(['none', 'None', 'NONE'])('refuses an unsecured JWT (alg %s) before fetching any key', async (alg) => {
    const before = idp.requests.jwks + idp.requests.discovery;
    const token = unsignedToken({ alg, typ: 'JWT' }, claims());
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /algorithm not allowed \(accepted: RS256, ES256, PS256, EdDSA\)/,
      token,
    );
    expect(idp.requests.jwks + idp.requests.discovery).toBe(before);
  });

  it('refuses alg none even when it carries a made-up signature', async () => {
    const token = unsignedToken({ alg: 'none' }, claims(), b64('not a signature'));
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /algorithm not allowed/);
  });

  it("refuses HS256 signed with the issuer's RSA public key PEM as the HMAC secret", async () => {
    const key = new TextEncoder().encode(idp.keys.RS256.publicPem);
    const token = await idp.mint({}, { alg: 'HS256', key, kid: idp.keys.RS256.kid });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /algorithm not allowed/, token);
  });

  it("refuses HS256 signed with the bytes of the issuer's JWK modulus (n)", async () => {
    for (const key of [
      Buffer.from(idp.keys.RS256.publicJwk.n!, 'base64url'),
      new TextEncoder().encode(idp.keys.RS256.publicJwk.n!),
    ]) {
      const token = await idp.mint({}, { alg: 'HS256', key, kid: idp.keys.RS256.kid });
      await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /algorithm not allowed/, token);
    }
  });

  it('with HS256 enabled (a real shared secret), the public key PEM still does not verify', async () => {
    const secret = webcrypto.getRandomValues(new Uint8Array(32));
    const hmac = new OidcTokenVerifier(identityConfigFor(idp, { algorithms: ['RS256', 'HS256'], hmacSecret: secret }));
    const control = await idp.mint({ sub: 'hmac-user' }, { alg: 'HS256', key: secret, kid: null });
    await expect(hmac.verify(control)).resolves.toMatchObject({ sub: 'hmac-user' });
    const forged = await idp.mint(
      {},
      { alg: 'HS256', key: new TextEncoder().encode(idp.keys.RS256.publicPem), kid: idp.keys.RS256.kid },
    );
    await expectSluiceError(hmac.verify(forged), 'SLUICE_ERR_AUTH_INVALID', /signature verification failed/);
  });

  it("refuses RS/ES confusion: header ES256 naming the RSA key's kid", async () => {
    const token = await idp.mint({}, { alg: 'ES256', kid: idp.keys.RS256.kid });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /no signing key of the issuer matches the token's kid and alg/,
      token,
    );
  });

  it("refuses RS/ES confusion the other way: header RS256 naming the EC key's kid", async () => {
    const token = await idp.mint({}, { alg: 'RS256', kid: idp.keys.ES256.kid });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /no signing key of the issuer matches/);
  });
});

describe('key-injection headers are ignored', () => {
  it('control: the attacker key is a working key on its own server', async () => {
    const own = new OidcTokenVerifier(identityConfigFor(attacker));
    await expect(own.verify(await attacker.mint({ sub: 'mallory' }))).resolves.toMatchObject({ sub: 'mallory' });
  });

  it.each(['jku', 'x5u'])("ignores a %s header pointing at the attacker's JWKS (never fetched)", async (param) => {
    const fetchedBefore = attacker.requests.jwks;
    const token = await idp.mint(
      { sub: 'admin' },
      { key: attackerKey.privateKey, kid: attackerKey.kid, header: { [param]: attacker.jwksUri } },
    );
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/, token);
    expect(attacker.requests.jwks).toBe(fetchedBefore);
  });

  it("ignores an embedded jwk header carrying the attacker's public key", async () => {
    const token = await idp.mint(
      { sub: 'admin' },
      { key: attackerKey.privateKey, kid: attackerKey.kid, header: { jwk: attackerKey.publicJwk } },
    );
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/, token);
  });

  it("ignores an embedded jwk header when the kid names the issuer's real key", async () => {
    const token = await idp.mint(
      { sub: 'admin' },
      { key: attackerKey.privateKey, kid: idp.keys.RS256.kid, header: { jwk: attackerKey.publicJwk } },
    );
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /signature verification failed/, token);
  });

  it('refuses a crit header naming an extension Sluice does not understand', async () => {
    const token = await idp.mint({}, { header: { crit: ['urn:example:policy'], 'urn:example:policy': 'skip-checks' } });
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /critical header extensions \(crit\) are not supported/,
      token,
    );
  });
});

describe('tampering', () => {
  it('refuses a payload changed after signing (signature kept)', async () => {
    const [header, payload, signature] = (await idp.mint({ groups: ['ci'] })).split('.');
    const original = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${b64(JSON.stringify({ ...original, groups: ['admins'] }))}.${signature}`;
    await expectSluiceError(
      verifier.verify(forged),
      'SLUICE_ERR_AUTH_INVALID',
      /^invalid token: signature verification failed$/,
      forged,
    );
  });

  it('refuses a token whose signature was stripped', async () => {
    const [header, payload] = (await idp.mint()).split('.');
    await expectSluiceError(
      verifier.verify(`${header}.${payload}.`),
      'SLUICE_ERR_AUTH_INVALID',
      /signature verification failed/,
    );
  });

  it('refuses a token signed by a key the issuer never published (kid of the real key)', async () => {
    const stranger = await generateIdpKey('ES256');
    const token = await idp.mint({}, { alg: 'ES256', key: stranger.privateKey, kid: idp.keys.ES256.kid });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /signature verification failed/);
  });
});

describe('duplicate members (refused: parsers disagree on which one wins)', () => {
  const header = (): { alg: 'RS256'; kid: string; typ: string } => ({
    alg: 'RS256',
    kid: idp.keys.RS256.kid,
    typ: 'JWT',
  });
  const base = (): string =>
    `"iss":${JSON.stringify(idp.issuer)},"aud":${JSON.stringify(idp.audience)},"iat":${now()},"exp":${now() + 300}`;

  it('control: a raw-signed payload without duplicates verifies', async () => {
    const token = await idp.signRaw(header(), `{${base()},"sub":"alice"}`);
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('refuses two "sub" claims, whichever comes first', async () => {
    for (const body of [`{${base()},"sub":"alice","sub":"admin"}`, `{"sub":"admin",${base()},"sub":"alice"}`]) {
      const token = await idp.signRaw(header(), body);
      await expectSluiceError(
        verifier.verify(token),
        'SLUICE_ERR_AUTH_INVALID',
        /duplicate "sub" member in token payload/,
        token,
      );
    }
  });

  it('refuses a duplicate spelled with a JSON escape ("su\\u0062")', async () => {
    const token = await idp.signRaw(header(), `{${base()},"sub":"alice","su\\u0062":"admin"}`);
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /duplicate "sub" member in token payload/,
    );
  });

  it('refuses a duplicate inside a nested claim (realm_access.roles)', async () => {
    const token = await idp.signRaw(
      header(),
      `{${base()},"sub":"alice","realm_access":{"roles":["dev"],"roles":["admin"]}}`,
    );
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /duplicate "roles" member in token payload/,
    );
  });

  it('refuses a duplicate "alg" in the header, even with a valid signature for the last one', async () => {
    const headerJson = `{"alg":"none","alg":"RS256","kid":${JSON.stringify(idp.keys.RS256.kid)}}`;
    const input = `${b64(headerJson)}.${b64(`{${base()},"sub":"alice"}`)}`;
    const signature = await webcrypto.subtle.sign(
      'RSASSA-PKCS1-v1_5',
      idp.keys.RS256.privateKey,
      new TextEncoder().encode(input),
    );
    const token = `${input}.${Buffer.from(signature).toString('base64url')}`;
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /duplicate "alg" member in token header/,
      token,
    );
  });
});

describe('malformed and oversized tokens', () => {
  it('refuses a 1 MB token by its size, before any parsing, key fetch or crypto', async () => {
    const [header] = (await idp.mint()).split('.');
    const huge = `${header}.${'A'.repeat(1024 * 1024)}.c2ln`;
    const before = { ...idp.requests };
    // The size message proves the length gate answered, ahead of decoding; no IdP request proves no key fetch.
    await expectSluiceError(
      verifier.verify(huge),
      'SLUICE_ERR_AUTH_INVALID',
      /^invalid token: token exceeds 16384 bytes$/,
    );
    expect(idp.requests).toEqual(before);
  });

  it('still accepts a large honest token under the cap (the cap is not too tight)', async () => {
    const token = await idp.mint({ groups: Array.from({ length: 600 }, (_, i) => `group-${i}`) });
    expect(token.length).toBeGreaterThan(10_000);
    await expect(verifier.verify(token)).resolves.toMatchObject({
      groups: expect.arrayContaining(['group-599']) as unknown,
    });
  });

  it.each([
    ['not a JWT', 'hello'],
    ['a JWE (five parts)', 'aaaa.bbbb.cccc.dddd.eeee'],
    ['non-base64url characters', 'aa+a.bbbb.cccc'],
    ['an empty payload', 'eyJhbGciOiJSUzI1NiJ9..c2ln'],
  ])('refuses %s as malformed', async (_name, token) => {
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /malformed token: expected a signed JWT \(three base64url parts\)/,
    );
  });

  it('refuses a header that is not JSON', async () => {
    await expectSluiceError(
      verifier.verify(`${b64('{alg:RS256')}.${b64('{}')}.c2ln`),
      'SLUICE_ERR_AUTH_INVALID',
      /malformed token: header is not JSON/,
    );
  });

  it('refuses a payload that is JSON but not an object', async () => {
    const token = await idp.signRaw({ alg: 'RS256', kid: idp.keys.RS256.kid }, '["alice"]');
    await expectSluiceError(
      verifier.verify(token),
      'SLUICE_ERR_AUTH_INVALID',
      /malformed token: payload is not a JSON object/,
    );
  });
});

describe('kid handling', () => {
  it('refuses an unknown kid (after one refetch for a possible rotation)', async () => {
    const before = idp.requests.jwks;
    await verifier.verify(await idp.mint()); // JWKS now cached
    const cached = idp.requests.jwks;
    const token = await idp.mint({}, { kid: 'no-such-key' });
    await expectSluiceError(verifier.verify(token), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/, token);
    expect(cached - before).toBeLessThanOrEqual(1);
    expect(idp.requests.jwks).toBe(cached + 1);
  });

  it("accepts a token without kid when exactly one published key fits its alg (jose's rule)", async () => {
    const identity = await verifier.verify(await idp.mint({ sub: 'no-kid' }, { kid: null }));
    expect(identity.sub).toBe('no-kid');
  });

  it('refuses a token without kid when several published keys fit its alg', async () => {
    const rotating = await TestIdp.start();
    try {
      await rotating.addKey('RS256'); // two RSA keys published
      const strict = new OidcTokenVerifier(identityConfigFor(rotating));
      const token = await rotating.mint({}, { kid: null });
      await expectSluiceError(
        strict.verify(token),
        'SLUICE_ERR_AUTH_INVALID',
        /token has no kid and several of the issuer's keys match/,
        token,
      );
    } finally {
      await rotating.close();
    }
  });
});
