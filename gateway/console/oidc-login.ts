import * as oidc from 'openid-client';
import type { Identity, TokenVerifier } from '../identity/identity.ts';

/** The console's OIDC client settings (config `console`, issuer resolved). */
export interface OidcLoginOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: string;
}

/** What must survive the round trip to the provider: kept server-side, keyed by `state`. */
export interface PendingLogin {
  readonly state: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
}

/**
 * Sign-in for the console: authorization code flow with PKCE (S256) against the configured
 * provider, through openid-client (certified client, discovery, state and PKCE checks). The
 * access token is then verified by the gateway's own verifier, so console users are exactly the
 * identities the API accepts (same issuer, audience, groups claim).
 */
export class OidcLogin {
  #config: Promise<oidc.Configuration> | undefined;

  constructor(
    private readonly options: OidcLoginOptions,
    private readonly verifier: TokenVerifier,
  ) {}

  /** Discovery runs on first use, so Sluice can start before the provider. */
  #configuration(): Promise<oidc.Configuration> {
    this.#config ??= oidc
      .discovery(new URL(this.options.issuer), this.options.clientId, undefined, oidc.None(), {
        // Plain http only for loopback providers (tests, local dev); anything else must be https.
        execute: isLoopbackHttp(this.options.issuer) ? [oidc.allowInsecureRequests] : [],
      })
      .catch((err: unknown) => {
        this.#config = undefined;
        throw err;
      });
    return this.#config;
  }

  /** Starts a sign-in: the provider URL to redirect to and what to keep until the callback. */
  async start(redirectUri: string): Promise<{ url: URL; pending: PendingLogin }> {
    const config = await this.#configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.options.scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
    });
    return { url, pending: { state, codeVerifier, redirectUri } };
  }

  /** Finishes a sign-in from the callback URL: code exchange, then the gateway's token checks. */
  async finish(callbackUrl: URL, pending: PendingLogin): Promise<{ identity: Identity; expiresAt: number }> {
    const config = await this.#configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
    });
    const identity = await this.verifier.verify(tokens.access_token);
    return { identity, expiresAt: identity.expiresAt * 1000 };
  }
}

function isLoopbackHttp(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}
