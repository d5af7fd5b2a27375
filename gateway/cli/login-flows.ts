/**
 * People's sign-in for CLI clients through openid-client (certified client: discovery, PKCE,
 * state, ID token checks, device-grant polling with `interval` and `slow_down`). Two flows:
 * the device authorization grant (RFC 8628) for machines without a browser, and the
 * authorization code flow with PKCE and a one-shot loopback redirect (RFC 8252).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { CachedTokens } from './login-cache.ts';

/** Which provider, which public client, what to ask for. */
export interface LoginTarget {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: string;
  /** RFC 8707 resource indicator (the gateway's audience), when the provider wants one. */
  readonly resource?: string;
}

/** Where a flow talks to the person signing in (stderr in the CLI: stdout stays clean). */
export interface LoginPrompt {
  say(line: string): void;
  /** Tries to open the URL in a browser; false when none could be started. */
  openBrowser(url: string): Promise<boolean>;
}

/** Discovery, allowing plain http only for a provider on loopback (tests, local development). */
export function discover(issuer: string, clientId: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, undefined, oidc.None(), {
    execute: isLoopbackHttp(issuer) ? [oidc.allowInsecureRequests] : [],
  });
}

function isLoopbackHttp(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

type TokenResponse = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

/** The cache entry for a token response; a refresh that returns no new refresh token keeps the old one. */
export function toCached(target: LoginTarget, tokens: TokenResponse, previousRefresh?: string): CachedTokens {
  // expires_in as the provider sent it: expiresIn() counts down from the response's arrival, so read
  // a moment later (a loaded machine) it is a second short of the token's lifetime.
  const lifetime = typeof tokens.expires_in === 'number' ? tokens.expires_in : undefined;
  return {
    issuer: target.issuer,
    clientId: target.clientId,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token ?? previousRefresh,
    expiresAt: lifetime === undefined ? undefined : Date.now() + lifetime * 1000,
    lifetimeSeconds: lifetime || undefined,
    scope: tokens.scope ?? target.scope,
    resource: target.resource,
  };
}

function extraParams(target: LoginTarget): Record<string, string> {
  return { scope: target.scope, ...(target.resource ? { resource: target.resource } : {}) };
}

/** RFC 8628: shows the verification URI and user code, then polls until the person approves. */
export async function deviceLogin(
  target: LoginTarget,
  prompt: LoginPrompt,
  signal?: AbortSignal,
): Promise<CachedTokens> {
  const config = await discover(target.issuer, target.clientId);
  const device = await oidc.initiateDeviceAuthorization(config, extraParams(target));
  prompt.say(`To sign in, open ${device.verification_uri} and enter the code ${device.user_code}`);
  if (device.verification_uri_complete) prompt.say(`(or open ${device.verification_uri_complete})`);
  prompt.say(`Waiting for you to approve (the code expires in ${Math.round(device.expires_in / 60)} min)…`);
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, device, undefined, { signal });
  return toCached(target, tokens);
}

/**
 * RFC 8252: a one-shot listener on 127.0.0.1 (random port) receives the redirect; the first
 * request to /callback ends it, whatever it carries, so a stray or forged request cannot linger.
 * openid-client checks `state` and the PKCE verifier while exchanging the code.
 */
export async function browserLogin(
  target: LoginTarget,
  prompt: LoginPrompt,
  timeoutMs = 300_000,
): Promise<CachedTokens> {
  const config = await discover(target.issuer, target.clientId);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      ...extraParams(target),
      redirect_uri: redirectUri,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = waitForCallback(server, timeoutMs);
    const opened = await prompt.openBrowser(url.href);
    prompt.say(
      opened
        ? `Opened your browser to sign in. If it did not open, visit:\n  ${url.href}`
        : `Open this URL in your browser to sign in:\n  ${url.href}`,
    );
    const { req, res } = await callback;
    const currentUrl = new URL(req.url ?? '/', redirectUri);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: codeVerifier,
        expectedState: state,
      });
      finishPage(res, 200, 'Signed in to Sluice. You can close this tab and return to the terminal.');
      return toCached(target, tokens);
    } catch (err) {
      finishPage(res, 400, 'Sign-in failed; see the terminal for details.');
      throw err;
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The first request to /callback; other paths (a browser's favicon request) get a 404. */
function waitForCallback(
  server: ReturnType<typeof createServer>,
  timeoutMs: number,
): Promise<{ req: IncomingMessage; res: ServerResponse }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no sign-in within ${Math.round(timeoutMs / 1000)} s; run sluice login again`)),
      timeoutMs,
    );
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== '/callback') {
        res.writeHead(404).end();
        return;
      }
      clearTimeout(timer);
      server.off('request', onRequest);
      resolve({ req, res });
    };
    server.on('request', onRequest);
  });
}

function finishPage(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${text}\n`);
}

/** Refreshes a cached token set with its refresh token (rotated tokens replace the old ones). */
export async function refreshCached(cached: CachedTokens): Promise<CachedTokens> {
  if (!cached.refreshToken) throw new Error('no refresh token cached');
  const target: LoginTarget = {
    issuer: cached.issuer,
    clientId: cached.clientId,
    scope: cached.scope ?? 'openid',
    resource: cached.resource,
  };
  const config = await discover(cached.issuer, cached.clientId);
  const tokens = await oidc.refreshTokenGrant(
    config,
    cached.refreshToken,
    cached.resource ? { resource: cached.resource } : undefined,
  );
  return toCached(target, tokens, cached.refreshToken);
}

/** An error's message with the provider's OAuth error code and description, when it sent them. */
export function describeOAuthError(err: unknown): string {
  if (err instanceof oidc.ResponseBodyError)
    return `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`;
  return (err as Error).message;
}
