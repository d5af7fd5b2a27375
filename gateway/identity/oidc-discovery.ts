/**
 * Finds the issuer's signing keys: OIDC discovery (`/.well-known/openid-configuration`), then
 * jose's remote JWKS set, which caches keys, honours a cooldown and refetches on an unknown `kid`
 * (key rotation). Every IdP-side failure surfaces as SLUICE_ERR_IDP_UNAVAILABLE (503) and
 * nothing failed is cached, so the next request tries again and recovers when the IdP does.
 */
import { createRemoteJWKSet, errors, type FlattenedJWSInput, type JWSHeaderParameters, type RemoteJWKSet } from 'jose';
import { SluiceError } from '../errors.ts';

/** The parts of an OpenID Provider Metadata document Sluice relies on. */
export interface DiscoveryDocument {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly [field: string]: unknown;
}

/** What OidcKeySource needs; a subset of IdentityConfig. */
export interface OidcKeySourceOptions {
  readonly issuer: string;
  /** Skips discovery and uses this JWKS URL. */
  readonly jwksUri?: string | undefined;
  readonly timeoutMs: number;
  readonly cacheMaxAgeSeconds: number;
  readonly cooldownSeconds: number;
}

// A discovery document is a few KiB; a cap keeps a broken or hostile IdP from filling memory.
const MAX_DISCOVERY_BYTES = 256 * 1024;

/** True for a URL Sluice may fetch keys or metadata from: https, or http only on loopback. */
export function isAllowedIdpUrl(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function unavailable(reason: string, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_ERR_IDP_UNAVAILABLE', `identity provider unavailable: ${reason}`, { cause });
}

async function readCapped(response: Response, max: number): Promise<string> {
  if (Number(response.headers.get('content-length') ?? 0) > max) throw unavailable('discovery document too large');
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > max) throw unavailable('discovery document too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Fetches and validates `${issuer}/.well-known/openid-configuration`; throws 503 SluiceErrors. */
export async function fetchDiscoveryDocument(issuer: string, timeoutMs: number): Promise<DiscoveryDocument> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let body: string;
  try {
    // redirect 'manual': metadata must come from the issuer's own URL, not wherever it points.
    const response = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw unavailable(`discovery returned HTTP ${response.status}`);
    }
    body = await readCapped(response, MAX_DISCOVERY_BYTES);
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw unavailable(timedOut ? 'discovery request timed out' : 'discovery request failed', err);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw unavailable('discovery document is not JSON', err);
  }
  return validateDiscoveryDocument(doc, issuer);
}

/** Checks the issuer echo (OIDC Discovery §4.3) and that jwks_uri is a URL keys may come from. */
export function validateDiscoveryDocument(doc: unknown, issuer: string): DiscoveryDocument {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw unavailable('discovery document is not a JSON object');
  const { issuer: named, jwks_uri: jwksUri } = doc as Record<string, unknown>;
  // Exact match, no normalising: a mismatch means we are talking to the wrong issuer.
  if (named !== issuer) throw unavailable('discovery document names a different issuer');
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri) || !isAllowedIdpUrl(new URL(jwksUri))) {
    throw unavailable('discovery document jwks_uri must be an https URL (http only on loopback)');
  }
  return doc as DiscoveryDocument;
}

// Errors from key lookup that are the token's fault (unknown kid, unusable alg): 401, not 503.
function isTokenSideKeyError(err: unknown): boolean {
  return (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JOSENotSupported
  );
}

/** A key `getKey` returned, with the header and token it was asked for. */
export interface KeyUse {
  readonly header: JWSHeaderParameters;
  readonly token: FlattenedJWSInput;
  readonly key: CryptoKey;
}

interface Resolved {
  readonly jwksUri: string;
  readonly jwks: RemoteJWKSet;
  fetchedAt: number;
}

/** The issuer's verification keys, discovered lazily; `getKey` plugs into jose's `jwtVerify`. */
export class OidcKeySource {
  readonly #options: OidcKeySourceOptions;
  #resolved: Resolved | undefined;
  #pending: Promise<Resolved> | undefined;

  constructor(options: OidcKeySourceOptions) {
    for (const [name, value] of [
      ['issuer', options.issuer],
      ['jwksUri', options.jwksUri],
    ] as const) {
      if (value !== undefined && (!URL.canParse(value) || !isAllowedIdpUrl(new URL(value)))) {
        throw new TypeError(`identity ${name} must be an https URL (http only on loopback): ${value}`);
      }
    }
    this.#options = options;
  }

  /** Resolves the key for a token header; IdP trouble → SluiceError 503, unknown kid → jose error. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const { jwks } = await this.#resolve();
    try {
      return await jwks(header, token);
    } catch (err) {
      if (isTokenSideKeyError(err)) throw err;
      // Timeouts, refused connections, non-200, non-JSON or malformed JWKS: the IdP's side.
      throw unavailable(
        err instanceof Error && err.name === 'JWKSTimeout' ? 'JWKS request timed out' : 'JWKS could not be fetched',
        err,
      );
    }
  };

  /**
   * Refetches the JWKS after a signature failed with a key from the cache: an IdP that rotated its
   * key under the same `kid` would otherwise lock callers out until the cache expires. Returns
   * true when verifying once more can help: the key for `failed.header` is no longer the one that
   * failed (another request reloaded the set meanwhile: no fetch), or the set was just refetched.
   * Returns false (nothing refetched) while the cooldown runs, so forged tokens cannot hammer the IdP.
   */
  async refreshAfterSignatureFailure(failed: KeyUse): Promise<boolean> {
    const { jwks } = await this.#resolve();
    // Concurrent calls with the rotated key all fail on the old one; only the first may refetch,
    // the others (cooldown running by then) must still see the new key rather than a 401.
    const current = await jwks(failed.header, failed.token).catch(() => undefined);
    if (current !== undefined && current !== failed.key) return true;
    if (jwks.coolingDown) return false;
    try {
      await jwks.reload();
    } catch (err) {
      throw unavailable('JWKS could not be fetched', err);
    }
    return true;
  }

  /** The JWKS URL in use, discovering it first if needed. */
  async jwksUri(): Promise<string> {
    return (await this.#resolve()).jwksUri;
  }

  #resolve(): Promise<Resolved> {
    const current = this.#resolved;
    const maxAgeMs = this.#options.cacheMaxAgeSeconds * 1000;
    if (current && Date.now() - current.fetchedAt < maxAgeMs) return Promise.resolve(current);
    this.#pending ??= this.#discover(current).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #discover(previous: Resolved | undefined): Promise<Resolved> {
    const { issuer, jwksUri: override, timeoutMs } = this.#options;
    let jwksUri: string;
    if (override !== undefined) {
      jwksUri = override;
    } else {
      try {
        jwksUri = (await fetchDiscoveryDocument(issuer, timeoutMs)).jwks_uri;
      } catch (err) {
        if (!previous) throw err;
        // Stale-if-error: keep the last good document, try again after one cooldown.
        previous.fetchedAt =
          Date.now() - this.#options.cacheMaxAgeSeconds * 1000 + this.#options.cooldownSeconds * 1000;
        return previous;
      }
    }
    // Same URL: keep the existing set and its key cache rather than refetching every key.
    if (previous && previous.jwksUri === jwksUri) {
      previous.fetchedAt = Date.now();
      return previous;
    }
    const jwks = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: timeoutMs,
      cacheMaxAge: this.#options.cacheMaxAgeSeconds * 1000,
      cooldownDuration: this.#options.cooldownSeconds * 1000,
    });
    this.#resolved = { jwksUri, jwks, fetchedAt: Date.now() };
    return this.#resolved;
  }
}
