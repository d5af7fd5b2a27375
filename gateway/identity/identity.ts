/** Who is calling, as established from a verified OIDC access token. Never holds the token itself. */
export interface Identity {
  readonly sub: string;
  readonly iss: string;
  /** `client_id`, else `azp`, else undefined: the OAuth client the token was issued to. */
  readonly clientId: string | undefined;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  /** `jti`, when the issuer sets one. */
  readonly tokenId: string | undefined;
  /** Seconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** The configured name of the issuer that vouched for the token (`default` for `identity.issuer`). */
  readonly issuerName?: string;
  /** The token's claims that issuer allow-lists for the policy (`identity.issuers[].claims`). */
  readonly claims?: Readonly<Record<string, ClaimValue>>;
}

/** A claim value the policy may see: JSON scalars and lists of strings (nested objects are not passed). */
export type ClaimValue = string | number | boolean | null | readonly string[];

/** Turns a bearer token into an Identity or throws a SluiceError (401 / 503). */
export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}
