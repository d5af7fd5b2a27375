import {
  credentialsPath,
  readCachedTokens,
  withCacheLock,
  writeCachedTokens,
  type CachedTokens,
} from './login-cache.ts';
import { describeOAuthError, refreshCached } from './login-flows.ts';

/** Refresh when the access token expires within this many seconds (Claude Code's request must not outlive it). */
export const DEFAULT_MIN_TTL_SECONDS = 60;

/**
 * `sluice token --print`: the cached access token of `sluice login`, refreshed first when it
 * expires within `minTtlSeconds`. Fails (never prints a stale token) when no valid one can be had.
 */
export async function printCachedToken(
  opts: { cache?: string; minTtlSeconds?: number },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const path = credentialsPath(opts.cache, env);
  const cached = await readCachedTokens(path);
  if (!cached) throw new Error(`not signed in (no ${path}): run \`sluice login\``);
  const minTtlMs = (opts.minTtlSeconds ?? DEFAULT_MIN_TTL_SECONDS) * 1000;
  const usable = (t: CachedTokens): boolean => t.expiresAt === undefined || t.expiresAt - Date.now() > minTtlMs;
  if (usable(cached)) {
    process.stdout.write(`${cached.accessToken}\n`);
    return 0;
  }
  const token = await withCacheLock(path, async () => {
    // Another process may have refreshed while this one waited for the lock: read again.
    const current = (await readCachedTokens(path)) ?? cached;
    if (usable(current)) return current.accessToken;
    if (!current.refreshToken)
      throw new Error('the cached token has expired and there is no refresh token: run `sluice login`');
    let fresh: CachedTokens;
    try {
      fresh = await refreshCached(current);
    } catch (err) {
      throw new Error(`could not refresh the cached token (${describeOAuthError(err)}): run \`sluice login\``);
    }
    if (fresh.expiresAt !== undefined && fresh.expiresAt <= Date.now())
      throw new Error('the provider returned an expired token: run `sluice login`');
    await writeCachedTokens(path, fresh);
    return fresh.accessToken;
  });
  process.stdout.write(`${token}\n`);
  return 0;
}
