/**
 * A real, certified OpenID provider (npm oidc-provider) for the console and CLI tests:
 * authorization code + PKCE for people (its dev login form accepts any user name; groups come
 * from `people`), the device authorization grant and refresh tokens for the native CLI client,
 * client_credentials for service accounts, JWT access tokens with the gateway's audience.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** Options for startOidcProvider. */
export interface OidcProviderOptions {
  readonly audience: string;
  /** Redirect URIs registered for the public console client. */
  readonly consoleRedirectUris: readonly string[];
  /** account id → groups, for people signing in. */
  readonly people: Readonly<Record<string, readonly string[]>>;
  /** service client id → { secret, groups }, for client_credentials. */
  readonly services: Readonly<Record<string, { secret: string; groups: readonly string[] }>>;
  /** Access-token lifetime in seconds (default 300); short to test refreshing. */
  readonly accessTokenTtlSeconds?: number;
}

/** The public native client of `sluice login`: loopback redirect on any port (RFC 8252), device grant. */
export const CLI_CLIENT_ID = 'sluice-cli';

/** A running provider and how to get a service token from it. */
export interface RunningOidcProvider {
  readonly issuer: string;
  serviceToken(clientId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<RunningOidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'console-test', alg: 'RS256', use: 'sig' };
  const groupsOf = (id: string | undefined): readonly string[] =>
    id ? (options.people[id] ?? options.services[id]?.groups ?? []) : [];
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'sluice-console',
        token_endpoint_auth_method: 'none',
        redirect_uris: [...options.consoleRedirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
      {
        client_id: CLI_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
      ...Object.entries(options.services).map(([client_id, s]) => ({
        client_id,
        client_secret: s.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      })),
    ],
    jwks: { keys: [jwk] },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    pkce: { required: () => true },
    // Real providers want `offline_access` (which oidc-provider drops without a consent prompt);
    // here any client allowed the refresh_token grant gets one, i.e. only the CLI client.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'openid',
          audience: options.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: options.accessTokenTtlSeconds ?? 300,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: async (_ctx, token) => {
      const t = token as { accountId?: string; clientId?: string };
      return { groups: [...groupsOf(t.accountId ?? t.clientId)] };
    },
    // Skip the consent screen for the first-party console and CLI: a grant is made on the fly
    // (oidc-provider still shows native clients, the CLI, a consent page: RFC 8252 section 8.6).
    loadExistingGrant: async (ctx) => {
      // The grant a consent page just saved (native clients), else the page would come back forever.
      const consented = ctx.oidc.result?.consent?.grantId;
      if (consented) return ctx.oidc.provider.Grant.find(consented);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope('openid');
      grant.addResourceScope(options.audience, 'openid');
      await grant.save();
      return grant;
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    async serviceToken(clientId) {
      const secret = options.services[clientId]!.secret;
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: options.audience, scope: 'openid' }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`client_credentials failed: ${body.error}: ${body.error_description}`);
      return body.access_token;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
