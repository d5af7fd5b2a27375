/**
 * The embedded default's local OIDC issuer, for development only: one ES256 key kept in the
 * state directory (0600), tokens minted on request (`sluice dev token`), discovery and JWKS
 * served by dev-issuer-routes.ts. Sluice then verifies its tokens exactly like a real IdP's.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/** Where DevIssuer keeps its key and the URL it is served at (`http://HOST:PORT/dev-issuer`). */
export interface DevIssuerOptions {
  readonly stateDir: string;
  readonly issuerUrl: string;
}

/** Claims for one dev token. */
export interface MintTokenOptions {
  readonly sub: string;
  readonly groups?: readonly string[];
  readonly scopes?: readonly string[];
  readonly audience: string | readonly string[];
  readonly clientId?: string;
  /** Default 900, at most 3600 (the verifier's default maximum lifetime). */
  readonly ttlSeconds?: number;
}

/** A JSON Web Key Set as served at the jwks_uri. */
export interface JsonWebKeySet {
  readonly keys: readonly JWK[];
}

/** File name of the dev issuer's private key inside the state directory. */
export const DEV_ISSUER_KEY_FILE = 'dev-issuer-key.json';
const ALG = 'ES256';
const DEFAULT_TTL_SECONDS = 900;
const MAX_TTL_SECONDS = 3600;

async function createKeyFile(path: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const stored: JWK = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ALG, use: 'sig' };
  // Write a private temp file, then link it into place: link fails with EEXIST instead of
  // overwriting a key another process created a moment ago, and nobody ever reads a half-written key.
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, path);
  } finally {
    await unlink(temp);
  }
  return stored;
}

async function loadKeyFile(path: string): Promise<JWK> {
  const { mode } = await stat(path);
  // Like ssh: a signing key others can read is a key others can mint tokens with.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new Error(
      `dev issuer key ${path} is accessible by other users (mode ${(mode & 0o777).toString(8)}); ` +
        `run: chmod 600 ${path}`,
    );
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    jwk = {};
  }
  if (
    typeof jwk !== 'object' ||
    jwk === null ||
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    !jwk.d ||
    !jwk.x ||
    !jwk.y ||
    typeof jwk.kid !== 'string'
  ) {
    throw new Error(`dev issuer key ${path} is not an ES256 private JWK with a kid; delete it to create a new one`);
  }
  return jwk;
}

/** A local ES256 issuer whose key persists in the state directory across restarts. */
export class DevIssuer {
  /** The `iss` value of minted tokens: issuerUrl without a trailing slash. */
  readonly issuer: string;
  readonly kid: string;
  readonly #privateKey: CryptoKey;
  readonly #publicJwk: JWK;

  private constructor(issuer: string, kid: string, privateKey: CryptoKey, publicJwk: JWK) {
    this.issuer = issuer;
    this.kid = kid;
    this.#privateKey = privateKey;
    this.#publicJwk = publicJwk;
  }

  /** Loads `${stateDir}/dev-issuer-key.json`, creating it (dir 0700, file 0600) on first use. */
  static async open({ stateDir, issuerUrl }: DevIssuerOptions): Promise<DevIssuer> {
    if (!URL.canParse(issuerUrl)) throw new TypeError(`dev issuer URL is not a URL: ${issuerUrl}`);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, DEV_ISSUER_KEY_FILE);
    let jwk: JWK;
    try {
      jwk = await createKeyFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      jwk = await loadKeyFile(path);
    }
    const { d: _private, key_ops: _ops, ext: _ext, ...publicJwk } = jwk;
    const privateKey = await importJWK(jwk, ALG);
    if (!(privateKey instanceof CryptoKey)) throw new Error('dev issuer key did not import as a CryptoKey');
    return new DevIssuer(issuerUrl.replace(/\/+$/, ''), jwk.kid as string, privateKey, Object.freeze(publicJwk));
  }

  /** Signs a short-lived access token for `sub` (iss, aud, iat, nbf, exp, random jti). */
  async mintToken(options: MintTokenOptions): Promise<string> {
    const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL_SECONDS) {
      throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
    }
    if (!options.sub) throw new TypeError('sub must be a non-empty string');
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      groups: [...(options.groups ?? [])],
      scope: (options.scopes ?? []).join(' '),
    };
    if (options.clientId !== undefined) claims['client_id'] = options.clientId;
    const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALG, kid: this.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(options.sub)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(this.#privateKey);
  }

  /** The OpenID Provider Metadata served at `${issuer}/.well-known/openid-configuration`. */
  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/jwks`,
      id_token_signing_alg_values_supported: [ALG],
      subject_types_supported: ['public'],
      response_types_supported: ['token'],
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'groups', 'scope'],
    };
  }

  /** The public key set served at the jwks_uri. */
  publicJwks(): JsonWebKeySet {
    return { keys: [{ ...this.#publicJwk }] };
  }
}
