import { spawn } from 'node:child_process';
import { decodeJwt } from 'jose';
import { loadConfig } from '../config.ts';
import { credentialsPath, writeCachedTokens } from './login-cache.ts';
import { browserLogin, describeOAuthError, deviceLogin, type LoginPrompt, type LoginTarget } from './login-flows.ts';

/** Flags of `sluice login`. */
export interface LoginOptions {
  readonly config?: string;
  readonly issuer?: string;
  readonly 'client-id'?: string;
  readonly scope?: string;
  readonly resource?: string;
  readonly device?: boolean;
  readonly browser?: boolean;
  readonly cache?: string;
}

/** Refresh tokens are what let `sluice token --print` outlive one access token. */
const DEFAULT_SCOPE = 'openid offline_access';

/**
 * The provider and client to sign in with: flags first, then the config file's people IdP
 * (console.issuer, else identity.issuer; console.cliClientId; console.scope plus offline_access).
 */
export function loginTarget(opts: LoginOptions, env: NodeJS.ProcessEnv = process.env): LoginTarget {
  const config = opts.config ? loadConfig(opts.config, env) : undefined;
  const issuer = opts.issuer ?? config?.console.issuer ?? config?.identity.issuer;
  if (!issuer)
    throw new Error('no identity provider: pass --issuer URL (or --config with console.issuer or identity.issuer)');
  const configScope = config ? [...new Set([...config.console.scope.split(/\s+/), 'offline_access'])].join(' ') : '';
  return {
    issuer,
    clientId: opts['client-id'] ?? config?.console.cliClientId ?? 'sluice-cli',
    scope: opts.scope ?? (configScope || DEFAULT_SCOPE),
    resource: opts.resource,
  };
}

/** A desktop session can open a browser; a bare SSH session or a container cannot. */
function hasBrowser(env: NodeJS.ProcessEnv): boolean {
  return process.platform === 'darwin' || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** Starts `xdg-open` / `open` detached; false when it is not installed. */
function openBrowser(url: string): Promise<boolean> {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  return new Promise((resolve) => {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

/**
 * `sluice login`: signs a person in at the people IdP (device grant or code + PKCE on a loopback
 * redirect) and caches the tokens for `sluice token --print`. Tokens are never printed here.
 */
export async function loginCommand(opts: LoginOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (opts.device && opts.browser) throw new Error('--device and --browser exclude each other');
  const target = loginTarget(opts, env);
  const prompt: LoginPrompt = {
    say: (line) => process.stderr.write(`${line}\n`),
    openBrowser,
  };
  const useDevice = opts.device ?? (opts.browser ? false : !hasBrowser(env));
  const cached = await (useDevice ? deviceLogin(target, prompt) : browserLogin(target, prompt)).catch((err) => {
    throw new Error(`sign-in failed: ${describeOAuthError(err)}`);
  });
  const path = credentialsPath(opts.cache, env);
  await writeCachedTokens(path, cached);
  const who = subjectOf(cached.accessToken);
  const expires = cached.expiresAt ? `, access token valid until ${new Date(cached.expiresAt).toISOString()}` : '';
  process.stderr.write(
    `Signed in${who ? ` as ${who}` : ''} at ${target.issuer}${expires}\n` +
      `Tokens cached in ${path}${cached.refreshToken ? '' : ' (no refresh token: sign in again when it expires)'}\n`,
  );
  return 0;
}

/** The `sub` of a JWT access token, for the confirmation line; opaque tokens have none to show. */
function subjectOf(token: string): string | undefined {
  try {
    return decodeJwt(token).sub;
  } catch {
    return undefined;
  }
}
