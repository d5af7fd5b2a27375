/**
 * Settings for OIDC token verification. config.ts fills this from the config file and env;
 * everything here is validated there, once, at start.
 */
export interface IdentityConfig {
  /** The issuer URL exactly as tokens carry it in `iss` (and as discovery must echo it). */
  readonly issuer: string;
  /** Accepted `aud` value(s); a token must name at least one. */
  readonly audience: string | readonly string[];
  /** Accepted JWS algorithms. `none` is never accepted; HS* only together with `hmacSecret`. */
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  /** Longest accepted `exp - iat`: Sluice wants short-lived tokens. */
  readonly maxTokenLifetimeSeconds: number;
  /** Claim holding groups; a dotted path reaches into objects (e.g. `realm_access.roles`). */
  readonly groupsClaim: string;
  /**
   * Claim holding scopes: a space-separated string or an array of strings. With the default
   * `scope`, a token without it falls back to `scp` (Okta, Entra ID).
   */
  readonly scopesClaim: string;
  /** Use this JWKS URL instead of the one named by the issuer's discovery document. */
  readonly jwksUri?: string | undefined;
  /** Timeout for each discovery and JWKS request. */
  readonly discoveryTimeoutMs: number;
  /** How long a fetched JWKS (and discovery document) is used before it is fetched again. */
  readonly jwksCacheMaxAgeSeconds: number;
  /** Least time between two JWKS refetches triggered by an unknown `kid`. */
  readonly jwksCooldownSeconds: number;
  /**
   * How long a verified token's Identity is reused without repeating the signature check (capped
   * by the token's own expiry); 0 disables. Bounds how long a key the IdP withdraws keeps working.
   */
  readonly verifiedTokenCacheSeconds: number;
  /** Shared secret for HS256/384/512; at least 32 bytes. Unset: HMAC tokens are refused. */
  readonly hmacSecret?: Uint8Array | undefined;
  /** The issuer's name in the policy input (`identity.issuer_name`); `default` for `identity.issuer`. */
  readonly name?: string;
  /** Prepended to `sub`, so the same subject of two issuers is two subjects (`github:repo:…`). */
  readonly subjectPrefix?: string;
  /** Claims passed to the policy as `identity.claims` (exact name, else a dotted path). */
  readonly claims?: readonly string[];
  /** Groups granted by claim values, added to the groups claim's (CI and workload tokens carry none). */
  readonly groupsFrom?: readonly GroupRule[];
}

/** `groups` for a token whose `claim` equals `equals`, or matches the glob `matches` (`*`: any run of characters). */
export interface GroupRule {
  readonly claim: string;
  readonly equals?: string | undefined;
  readonly matches?: string | undefined;
  readonly groups: readonly string[];
}

/** Defaults for every IdentityConfig field that has one (issuer and audience have none). */
export const IDENTITY_DEFAULTS = Object.freeze({
  algorithms: Object.freeze(['RS256', 'ES256', 'PS256', 'EdDSA']),
  clockToleranceSeconds: 30,
  maxTokenLifetimeSeconds: 3600,
  groupsClaim: 'groups',
  scopesClaim: 'scope',
  discoveryTimeoutMs: 5000,
  verifiedTokenCacheSeconds: 60,
  jwksCacheMaxAgeSeconds: 600,
  jwksCooldownSeconds: 30,
}) satisfies Omit<IdentityConfig, 'issuer' | 'audience' | 'jwksUri' | 'hmacSecret'>;
