/**
 * The embedded dev issuer: its tokens must pass the same OidcTokenVerifier a real IdP's do, with
 * discovery and JWKS served over HTTP by devIssuerRoutes on a Fastify app (port 0), and its key
 * must persist privately in the state directory.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ISSUER_KEY_FILE, DevIssuer } from '../../../gateway/identity/dev-issuer.ts';
import { devIssuerRoutes } from '../../../gateway/identity/dev-issuer-routes.ts';
import { IDENTITY_DEFAULTS } from '../../../gateway/identity/identity-config.ts';
import { OidcTokenVerifier } from '../../../gateway/identity/token-verifier.ts';
import { expectSluiceError } from './expect-sluice-error.ts';

const onPosix = process.platform !== 'win32';
let app: FastifyInstance;
let issuerUrl: string;
// The issuer URL needs the port, the port needs a listening app: the routes serve whichever
// DevIssuer this points at, so a test can also swap in a reopened one.
let served: DevIssuer | undefined;
const dirs: string[] = [];

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-dev-issuer-'));
  dirs.push(dir);
  return join(dir, 'state');
}

function verifierFor(issuer: DevIssuer, audience = 'sluice'): OidcTokenVerifier {
  return new OidcTokenVerifier({
    ...IDENTITY_DEFAULTS,
    issuer: issuer.issuer,
    audience,
    discoveryTimeoutMs: 1000,
    jwksCooldownSeconds: 0,
  });
}

beforeAll(async () => {
  app = Fastify();
  const current = (): DevIssuer => {
    if (!served) throw new Error('no dev issuer served yet');
    return served;
  };
  await app.register(devIssuerRoutes, {
    prefix: '/dev-issuer',
    issuer: { discoveryDocument: () => current().discoveryDocument(), publicJwks: () => current().publicJwks() },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  issuerUrl = `http://127.0.0.1:${address.port}/dev-issuer`;
});
afterEach(() => {
  served = undefined;
});
afterAll(async () => {
  await app.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('tokens', () => {
  it('mints a token the OidcTokenVerifier accepts via discovery and JWKS over HTTP', async () => {
    served = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl: `${issuerUrl}/` });
    expect(served.issuer).toBe(issuerUrl);
    const sub = `dev-${randomUUID()}`;
    const token = await served.mintToken({
      sub,
      groups: ['engineering', 'oncall'],
      scopes: ['messages:write', 'models:read'],
      audience: 'sluice',
      clientId: 'sluice-cli',
      ttlSeconds: 600,
    });
    const identity = await verifierFor(served).verify(token);
    expect(identity).toMatchObject({
      sub,
      iss: issuerUrl,
      clientId: 'sluice-cli',
      groups: ['engineering', 'oncall'],
      scopes: ['messages:write', 'models:read'],
    });
    expect(identity.tokenId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(identity.expiresAt - identity.issuedAt).toBe(600);
    expect(Math.abs(identity.issuedAt - Date.now() / 1000)).toBeLessThan(5);
  });

  it('serves discovery naming itself and a JWKS with the public key only', async () => {
    served = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    const discovery = (await (await fetch(`${issuerUrl}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery).toMatchObject({ issuer: issuerUrl, jwks_uri: `${issuerUrl}/jwks` });
    const jwks = (await (await fetch(`${issuerUrl}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', kid: served.kid, alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('is refused by a verifier expecting another audience', async () => {
    served = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    const token = await served.mintToken({ sub: 'alice', audience: 'other-api' });
    await expectSluiceError(verifierFor(served).verify(token), 'SLUICE_ERR_AUTH_INVALID', /audience mismatch/, token);
  });

  it('defaults to a 900 s lifetime and allows exactly 3600 s', async () => {
    served = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    const verifier = verifierFor(served);
    const short = await verifier.verify(await served.mintToken({ sub: 'alice', audience: 'sluice' }));
    expect(short.expiresAt - short.issuedAt).toBe(900);
    const longest = await verifier.verify(
      await served.mintToken({ sub: 'alice', audience: 'sluice', ttlSeconds: 3600 }),
    );
    expect(longest.expiresAt - longest.issuedAt).toBe(3600);
  });

  it.each([3601, 86_400, 0, -5, 1.5, Number.NaN])('refuses ttlSeconds %s', async (ttlSeconds) => {
    const issuer = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    await expect(issuer.mintToken({ sub: 'alice', audience: 'sluice', ttlSeconds })).rejects.toThrow(
      /ttlSeconds must be an integer from 1 to 3600/,
    );
  });

  it('refuses an empty sub', async () => {
    const issuer = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    await expect(issuer.mintToken({ sub: '', audience: 'sluice' })).rejects.toThrow(/sub must be a non-empty string/);
  });

  it('tokens of another dev issuer (another state dir) are refused: the key, not the URL, decides', async () => {
    served = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    const impostor = await DevIssuer.open({ stateDir: await stateDir(), issuerUrl });
    expect(impostor.kid).not.toBe(served.kid);
    const token = await impostor.mintToken({ sub: 'admin', audience: 'sluice' });
    await expectSluiceError(verifierFor(served).verify(token), 'SLUICE_ERR_AUTH_INVALID', /\(unknown kid\)/, token);
  });
});

describe('key persistence', () => {
  it.runIf(onPosix)('writes the key to the state dir with mode 0600 (dir 0700)', async () => {
    const dir = await stateDir();
    const issuer = await DevIssuer.open({ stateDir: dir, issuerUrl });
    const path = join(dir, DEV_ISSUER_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({ kty: 'EC', crv: 'P-256', kid: issuer.kid, alg: 'ES256' });
    expect(typeof stored['d']).toBe('string');
  });

  it('reuses the stored key on reopen: same kid, and old tokens still verify', async () => {
    const dir = await stateDir();
    const first = await DevIssuer.open({ stateDir: dir, issuerUrl });
    const token = await first.mintToken({ sub: 'before-restart', audience: 'sluice' });
    const reopened = await DevIssuer.open({ stateDir: dir, issuerUrl });
    expect(reopened.kid).toBe(first.kid);
    expect(reopened.publicJwks()).toEqual(first.publicJwks());
    served = reopened;
    await expect(verifierFor(reopened).verify(token)).resolves.toMatchObject({ sub: 'before-restart' });
  });

  it('creates exactly one key when several opens race on a fresh state dir', async () => {
    const dir = await stateDir();
    const issuers = await Promise.all(Array.from({ length: 5 }, () => DevIssuer.open({ stateDir: dir, issuerUrl })));
    expect(new Set(issuers.map((issuer) => issuer.kid)).size).toBe(1);
  });

  it.runIf(onPosix)('refuses a key file readable by others, naming the fix', async () => {
    const dir = await stateDir();
    await DevIssuer.open({ stateDir: dir, issuerUrl });
    const path = join(dir, DEV_ISSUER_KEY_FILE);
    await chmod(path, 0o644);
    await expect(DevIssuer.open({ stateDir: dir, issuerUrl })).rejects.toThrow(
      /accessible by other users \(mode 644\); run: chmod 600/,
    );
  });

  it('refuses a corrupt key file with a clear message instead of a JSON parse error', async () => {
    const dir = await stateDir();
    await DevIssuer.open({ stateDir: dir, issuerUrl });
    await writeFile(join(dir, DEV_ISSUER_KEY_FILE), '{"kty":', { mode: 0o600 });
    await expect(DevIssuer.open({ stateDir: dir, issuerUrl })).rejects.toThrow(
      /is not an ES256 private JWK with a kid; delete it/,
    );
  });
});
