/**
 * A real HTTP OpenID issuer for tests: discovery + JWKS on 127.0.0.1 (port 0), RS256 and ES256
 * keys generated at start, failure modes to simulate an IdP outage, and the key material tests
 * need to forge attack tokens. Hand-written because it must misbehave on demand, which a full
 * provider (oidc-provider) does not.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters } from 'jose';
import { IDENTITY_DEFAULTS, type IdentityConfig } from '../../gateway/identity/identity-config.ts';

/** How the IdP answers: normally, 503 (or a dropped connection), too late, or with non-JSON. */
export type IdpMode = 'ok' | 'down' | 'slow' | 'garbage';
/** Which endpoint a mode applies to. */
export type IdpTarget = 'all' | 'discovery' | 'jwks';

/** One signing key of the IdP, with every form of it an attack test may want. */
export interface IdpKey {
  readonly alg: 'RS256' | 'ES256';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly publicPem: string;
}

/** Options for TestIdp.mint. */
export interface MintOptions {
  /** Default RS256. */
  readonly alg?: string;
  /** Default: the kid of the IdP's key for `alg`; null leaves kid out. */
  readonly kid?: string | null;
  /** Extra or overriding protected-header parameters (crit, jku, x5u, jwk, ...). */
  readonly header?: Record<string, unknown>;
  /** Sign with this key instead of the IdP's own (attacker keys, HMAC secrets). */
  readonly key?: CryptoKey | Uint8Array;
}

/** Options for TestIdp.start. */
export interface TestIdpOptions {
  readonly audience?: string;
  /** How long 'slow' mode holds each response. */
  readonly slowDelayMs?: number;
}

/** Generates an RS256 or ES256 key with a fresh kid. */
export async function generateIdpKey(alg: 'RS256' | 'ES256'): Promise<IdpKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

/** An IdentityConfig pointed at `idp` with test-friendly timings (short timeout, no cooldown). */
export function identityConfigFor(idp: TestIdp, overrides: Partial<IdentityConfig> = {}): IdentityConfig {
  return {
    ...IDENTITY_DEFAULTS,
    issuer: idp.issuer,
    audience: idp.audience,
    discoveryTimeoutMs: 400,
    jwksCooldownSeconds: 0,
    ...overrides,
  };
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds an unsigned compact JWT (`alg: none` style) from raw header and payload. */
export function unsignedToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = '',
): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

/** A running test issuer; call close() when done. */
export class TestIdp {
  readonly issuer: string;
  readonly audience: string;
  /** Requests served per endpoint, including failed ones. */
  readonly requests = { discovery: 0, jwks: 0 };
  keys: { RS256: IdpKey; ES256: IdpKey };
  /** Fields merged over the discovery document (e.g. a different issuer). */
  discoveryOverrides: Record<string, unknown> = {};
  readonly #server: Server;
  readonly #slowDelayMs: number;
  readonly #modes = { discovery: 'ok' as IdpMode, jwks: 'ok' as IdpMode };
  // Keys replaced by addKey: no longer used to sign, still published (a rotation in progress).
  #previousKeys: IdpKey[] = [];
  #closeConnection = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(server: Server, keys: TestIdp['keys'], options: TestIdpOptions) {
    const { port } = server.address() as AddressInfo;
    this.#server = server;
    this.keys = keys;
    this.issuer = `http://127.0.0.1:${port}/issuer`;
    this.audience = options.audience ?? 'sluice-test';
    this.#slowDelayMs = options.slowDelayMs ?? 2000;
  }

  /** Starts a server on 127.0.0.1 with fresh RS256 and ES256 keys. */
  static async start(options: TestIdpOptions = {}): Promise<TestIdp> {
    const keys = { RS256: await generateIdpKey('RS256'), ES256: await generateIdpKey('ES256') };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const idp = new TestIdp(server, keys, options);
    server.on('request', (req, res) => idp.#handle(req, res));
    return idp;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`;
  }

  /** The JWKS currently served: the current RS256 and ES256 keys, then any previous ones. */
  jwks(): { keys: JWK[] } {
    return {
      keys: [this.keys.RS256.publicJwk, this.keys.ES256.publicJwk, ...this.#previousKeys.map((key) => key.publicJwk)],
    };
  }

  /** Signs `claims` over defaults (iss, aud, sub, iat, exp = +5 min, jti); undefined deletes one. */
  async mint(claims: Record<string, unknown> = {}, options: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: this.issuer,
      aud: this.audience,
      sub: 'alice',
      iat: now,
      exp: now + 300,
      jti: randomUUID(),
      ...claims,
    };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    const alg = options.alg ?? 'RS256';
    const own = alg === 'RS256' || alg === 'ES256' ? this.keys[alg] : undefined;
    const key = options.key ?? own?.privateKey;
    if (!key) throw new Error(`mint: no key for ${alg}; pass options.key`);
    const kid = options.kid === undefined ? own?.kid : (options.kid ?? undefined);
    const header = { alg, typ: 'JWT', ...(kid === undefined ? {} : { kid }), ...options.header } as JWTHeaderParameters;
    // jose refuses to sign unknown crit extensions unless told they are understood.
    const crit = Array.isArray(header.crit) ? Object.fromEntries(header.crit.map((name) => [name, true])) : undefined;
    return new SignJWT(payload).setProtectedHeader(header).sign(key, crit ? { crit } : undefined);
  }

  /**
   * Signs raw payload text as-is (e.g. JSON with a duplicate member, which no object can hold)
   * under `header`, with the IdP's own key for header.alg unless `key` is given.
   */
  async signRaw(header: JWTHeaderParameters, payloadJson: string, key?: CryptoKey | Uint8Array): Promise<string> {
    const own = header.alg === 'RS256' ? this.keys.RS256 : header.alg === 'ES256' ? this.keys.ES256 : undefined;
    const signingKey = key ?? own?.privateKey;
    if (!signingKey) throw new Error(`signRaw: no key for ${header.alg}; pass key`);
    return new CompactSign(new TextEncoder().encode(payloadJson)).setProtectedHeader(header).sign(signingKey);
  }

  /** Starts a rotation: a new key (new kid) signs from now on; the old one stays published. */
  async addKey(alg: 'RS256' | 'ES256'): Promise<IdpKey> {
    const key = await generateIdpKey(alg);
    this.#previousKeys.push(this.keys[alg]);
    this.keys = { ...this.keys, [alg]: key };
    return key;
  }

  /** An IdP restarted with a new key under the same kid (the old key leaves the JWKS). */
  async replaceKeyKeepingKid(alg: 'RS256' | 'ES256'): Promise<IdpKey> {
    const fresh = await generateIdpKey(alg);
    const kid = this.keys[alg].kid;
    const key = { ...fresh, kid, publicJwk: { ...fresh.publicJwk, kid } };
    this.keys = { ...this.keys, [alg]: key };
    return key;
  }

  /** Replaces both keys with new ones (new kids); the old keys leave the JWKS. */
  async rotateKeys(): Promise<void> {
    this.keys = { RS256: await generateIdpKey('RS256'), ES256: await generateIdpKey('ES256') };
    this.#previousKeys = [];
  }

  /** Sets the failure mode; `closeConnection` makes 'down' drop the socket instead of a 503. */
  setMode(mode: IdpMode, options: { target?: IdpTarget; closeConnection?: boolean } = {}): void {
    const target = options.target ?? 'all';
    if (target !== 'jwks') this.#modes.discovery = mode;
    if (target !== 'discovery') this.#modes.jwks = mode;
    this.#closeConnection = options.closeConnection ?? false;
  }

  /** Stops the server, dropping open (e.g. slow) connections. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', this.issuer).pathname;
    const endpoint =
      path === '/issuer/.well-known/openid-configuration' ? 'discovery' : path === '/issuer/jwks' ? 'jwks' : undefined;
    if (!endpoint) {
      res.writeHead(404).end();
      return;
    }
    this.requests[endpoint] += 1;
    const mode = this.#modes[endpoint];
    const body =
      endpoint === 'discovery'
        ? {
            issuer: this.issuer,
            jwks_uri: this.jwksUri,
            id_token_signing_alg_values_supported: ['RS256', 'ES256'],
            ...this.discoveryOverrides,
          }
        : this.jwks();
    const send = (): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (mode === 'down' && this.#closeConnection) req.socket.destroy();
    else if (mode === 'down') res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
    else if (mode === 'garbage') res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json');
    else if (mode === 'slow') {
      // Not a wait: the delay is the fault this mode injects (an IdP slower than the discovery timeout).
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (!res.destroyed) send();
      }, this.#slowDelayMs);
      this.#timers.add(timer);
    } else send();
  }
}
