/**
 * Verifies OIDC access tokens (JWTs) against the issuer's keys and turns them into an Identity.
 * jose does the cryptography and the standard claim checks; this file pins the options that
 * make it safe (explicit algorithms, required claims, keys only from the issuer's JWKS) and
 * maps every failure to a SluiceError without ever echoing the token.
 */
import { LRUCache } from 'lru-cache';
import { errors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { SluiceError } from '../errors.ts';
import type { ClaimValue, Identity, TokenVerifier } from './identity.ts';
import type { GroupRule, IdentityConfig } from './identity-config.ts';
import { OidcKeySource, type KeyUse } from './oidc-discovery.ts';
import { checkTokenShape, invalidToken as invalid } from './token-shape.ts';

export { MAX_TOKEN_BYTES } from './token-shape.ts';

const HMAC_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512']);
const MIN_HMAC_SECRET_BYTES = 32;
// RFC 7235: credentials = auth-scheme 1*SP token68; the scheme is case-insensitive.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** Verified tokens remembered at most; the least recently used leave first. */
const VERIFIED_CACHE_ENTRIES = 10_000;
const TOKEN_HINT =
  'send an OIDC access token as Authorization: Bearer <token> (SDK authToken, Claude Code ANTHROPIC_AUTH_TOKEN) ' +
  'or as x-api-key (SDK apiKey, Claude Code apiKeyHelper)';

/**
 * Returns the token from an `Authorization: Bearer <token>` header. No header, another scheme or
 * an empty token: 401 AUTH_MISSING; a Bearer value that is not one token68 word: 401 AUTH_INVALID.
 * Several spaces after `Bearer` are accepted (RFC 7235 allows 1*SP); messages never quote the header.
 */
export function extractBearerToken(authorizationHeader: string | undefined): string {
  // Node trims surrounding whitespace from header values; trim here too for direct callers.
  const value = (authorizationHeader ?? '').trim();
  if (value === '') throw new SluiceError('SLUICE_ERR_AUTH_MISSING');
  const match = BEARER.exec(value);
  if (match?.[1]) return match[1];
  const [scheme = ''] = value.split(/\s/, 1);
  if (scheme.toLowerCase() !== 'bearer')
    throw new SluiceError(
      'SLUICE_ERR_AUTH_MISSING',
      `missing bearer token: the Authorization scheme must be Bearer; ${TOKEN_HINT}`,
    );
  if (value.length === scheme.length)
    throw new SluiceError(
      'SLUICE_ERR_AUTH_MISSING',
      `missing bearer token: the Bearer credential is empty; ${TOKEN_HINT}`,
    );
  throw invalid('malformed Authorization header: Bearer must be followed by exactly one token');
}

const CLAIM_REASONS: Readonly<Record<string, string>> = {
  iss: 'issuer mismatch',
  aud: 'audience mismatch',
  nbf: 'token not yet valid (nbf)',
  iat: 'invalid issued-at (iat)',
  exp: 'invalid expiry (exp)',
  sub: 'invalid subject (sub)',
};

/** Maps a jose failure to a short, token-free SluiceError; SluiceErrors pass through. */
export function mapVerifyError(err: unknown, allowedAlgorithms?: readonly string[]): SluiceError {
  if (err instanceof SluiceError) return err;
  if (err instanceof errors.JWTExpired) return new SluiceError('SLUICE_ERR_AUTH_EXPIRED', undefined, { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return invalid(`missing required claim "${err.claim}"`, err);
    return invalid(CLAIM_REASONS[err.claim] ?? `claim "${err.claim}" rejected`, err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return invalid(
      `algorithm not allowed${allowedAlgorithms ? ` (accepted: ${allowedAlgorithms.join(', ')})` : ''}`,
      err,
    );
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('signature verification failed', err);
  // Also the answer when kid names a key of another type (header ES256, kid of an RSA key).
  if (err instanceof errors.JWKSNoMatchingKey)
    return invalid("no signing key of the issuer matches the token's kid and alg (unknown kid)", err);
  if (err instanceof errors.JWKSMultipleMatchingKeys)
    return invalid("token has no kid and several of the issuer's keys match", err);
  if (err instanceof errors.JOSENotSupported) return invalid('unsupported header or algorithm', err);
  if (err instanceof errors.JOSEError) return invalid('malformed token', err);
  // A TypeError from key import and the like: still the token's fault, never a 500 that leaks detail.
  return invalid('malformed token', err);
}

/** Reads a claim by exact name first (URL-style claim names contain dots), else by dotted path. */
function readClaim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part))
      return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function stringList(value: unknown, splitString: boolean): readonly string[] {
  if (typeof value === 'string') return Object.freeze(splitString ? value.split(/\s+/).filter(Boolean) : [value]);
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return Object.freeze([...value]);
  return Object.freeze([]);
}

const optionalString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * Whether a claim value satisfies a groupsFrom rule: exact equality, or a glob where `*` stands for
 * any run of characters (hand-written: a two-line translation, no path semantics wanted).
 */
function ruleMatches(rule: GroupRule, value: string): boolean {
  if (rule.equals !== undefined) return value === rule.equals;
  if (rule.matches === undefined) return false;
  const pattern = rule.matches.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${pattern.join('.*')}$`, 's').test(value);
}

/** The TokenVerifier for OIDC issuers: discovery + JWKS, jose jwtVerify, lifetime limits. */
export class OidcTokenVerifier implements TokenVerifier {
  readonly #config: IdentityConfig;
  readonly #keys: OidcKeySource;
  readonly #algorithms: string[];
  readonly #audience: string | string[];
  /** Keyed by the whole token (never a part of it: a forged payload must never hit an entry). */
  readonly #verified: LRUCache<string, Identity> | undefined;

  constructor(config: IdentityConfig, keys?: OidcKeySource) {
    const secret = config.hmacSecret;
    if (secret !== undefined && secret.byteLength < MIN_HMAC_SECRET_BYTES) {
      throw new TypeError(`identity hmacSecret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
    }
    // 'none' never; HMAC only with a configured secret, so a public key can never act as one.
    this.#algorithms = config.algorithms.filter(
      (alg) => alg !== 'none' && (!HMAC_ALGORITHMS.has(alg) || secret !== undefined),
    );
    if (this.#algorithms.length === 0) throw new TypeError('identity algorithms allows no usable algorithm');
    this.#audience = typeof config.audience === 'string' ? config.audience : [...config.audience];
    this.#config = config;
    this.#verified = config.verifiedTokenCacheSeconds > 0 ? new LRUCache({ max: VERIFIED_CACHE_ENTRIES }) : undefined;
    this.#keys =
      keys ??
      new OidcKeySource({
        issuer: config.issuer,
        jwksUri: config.jwksUri,
        timeoutMs: config.discoveryTimeoutMs,
        cacheMaxAgeSeconds: config.jwksCacheMaxAgeSeconds,
        cooldownSeconds: config.jwksCooldownSeconds,
      });
  }

  /** Verifies `token` and returns who it names; throws SluiceError 401 (token) or 503 (IdP). */
  async verify(token: string): Promise<Identity> {
    const cached = this.#verified?.get(token);
    if (cached) {
      // The entry never outlives the token: expiry is checked again on every use.
      if (cached.expiresAt + this.#config.clockToleranceSeconds > Date.now() / 1000) return cached;
      throw new SluiceError('SLUICE_ERR_AUTH_EXPIRED');
    }
    checkTokenShape(token);
    const config = this.#config;
    const options = {
      issuer: config.issuer,
      audience: this.#audience,
      algorithms: this.#algorithms,
      clockTolerance: config.clockToleranceSeconds,
      requiredClaims: ['exp', 'iat', 'sub'],
    };
    let payload: JWTPayload;
    let used: KeyUse | undefined;
    // Remembers the JWKS key a failed signature was checked with (HMAC secrets are not remembered).
    const getKey = async (header: JWSHeaderParameters, input: FlattenedJWSInput): Promise<CryptoKey | Uint8Array> => {
      const key = await this.#getKey(header, input);
      used = key instanceof Uint8Array ? undefined : { header, token: input, key };
      return key;
    };
    try {
      ({ payload } = await jwtVerify(token, getKey, options));
    } catch (err) {
      if (
        !(err instanceof errors.JWSSignatureVerificationFailed) ||
        !used ||
        !(await this.#keys.refreshAfterSignatureFailure(used))
      ) {
        throw mapVerifyError(err, this.#algorithms);
      }
      try {
        ({ payload } = await jwtVerify(token, this.#getKey, options));
      } catch (again) {
        throw mapVerifyError(again, this.#algorithms);
      }
    }
    const identity = this.#toIdentity(payload);
    // Signature checks dominate the cost of a request; callers reuse a token for many calls.
    const ttlMs = Math.min(this.#config.verifiedTokenCacheSeconds, identity.expiresAt - Date.now() / 1000) * 1000;
    if (ttlMs > 0) this.#verified?.set(token, identity, { ttl: ttlMs });
    return identity;
  }

  // HMAC tokens get the shared secret (only reachable when HS* is allowed); the rest the JWKS.
  readonly #getKey = (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey | Uint8Array> => {
    const secret = this.#config.hmacSecret;
    if (secret !== undefined && typeof header.alg === 'string' && HMAC_ALGORITHMS.has(header.alg))
      return Promise.resolve(secret);
    return this.#keys.getKey(header, token);
  };

  #toIdentity(payload: JWTPayload): Identity {
    const { sub, iss, iat, exp } = payload;
    const tolerance = this.#config.clockToleranceSeconds;
    // jose checks presence and number type of exp/iat; these checks are Sluice's own.
    if (typeof sub !== 'string' || sub === '') throw invalid('invalid subject (sub)');
    if (typeof iss !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') throw invalid('malformed token');
    if (iat > Date.now() / 1000 + tolerance) throw invalid('issued in the future (iat)');
    if (exp <= iat) throw invalid('expiry (exp) is not after issued-at (iat)');
    if (exp - iat > this.#config.maxTokenLifetimeSeconds) {
      throw new SluiceError(
        'SLUICE_ERR_AUTH_LIFETIME',
        `token lifetime ${exp - iat}s exceeds the ${this.#config.maxTokenLifetimeSeconds}s this gateway accepts: ` +
          'use a short-lived token',
      );
    }
    return Object.freeze({
      sub: `${this.#config.subjectPrefix ?? ''}${sub}`,
      iss,
      clientId: optionalString(payload['client_id']) ?? optionalString(payload.azp),
      groups: this.#groups(payload),
      scopes: stringList(this.#scopeClaim(payload), true),
      tokenId: optionalString(payload.jti),
      issuedAt: iat,
      expiresAt: exp,
      issuerName: this.#config.name ?? 'default',
      claims: this.#allowedClaims(payload),
    });
  }

  /** The groups claim's groups, plus those the issuer's groupsFrom rules grant for this token's claims. */
  #groups(payload: JWTPayload): readonly string[] {
    const groups = new Set(stringList(readClaim(payload, this.#config.groupsClaim), false));
    for (const rule of this.#config.groupsFrom ?? []) {
      const value = readClaim(payload, rule.claim);
      if (typeof value === 'string' && ruleMatches(rule, value)) for (const g of rule.groups) groups.add(g);
    }
    return Object.freeze([...groups]);
  }

  /** The allow-listed claims with a value the policy can use; others (absent, nested objects) are left out. */
  #allowedClaims(payload: JWTPayload): Readonly<Record<string, ClaimValue>> {
    const out: Record<string, ClaimValue> = {};
    for (const name of this.#config.claims ?? []) {
      const value = readClaim(payload, name);
      if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[name] = value as ClaimValue;
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[name] = Object.freeze([...value]);
    }
    return Object.freeze(out);
  }

  // With the default `scope`, tokens from IdPs that use `scp` instead (Okta, Entra ID) still
  // yield their scopes; a configured claim other than `scope` is read alone.
  #scopeClaim(payload: JWTPayload): unknown {
    const claim = this.#config.scopesClaim;
    const value = readClaim(payload, claim);
    return value === undefined && claim === 'scope' ? payload['scp'] : value;
  }
}
