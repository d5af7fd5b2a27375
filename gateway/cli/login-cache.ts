/**
 * The people's token cache of `sluice login` / `sluice token --print`: one JSON file, mode 0600,
 * written atomically (a reader such as Claude Code's apiKeyHelper never sees half a file).
 */
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';

/** What a sign-in leaves behind: enough to print the access token and to refresh it later. */
export const CachedTokens = z.object({
  issuer: z.url(),
  clientId: z.string().min(1),
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** Access-token expiry, epoch milliseconds (absent when the provider sent no expires_in). */
  expiresAt: z.number().int().optional(),
  /** Lifetime the provider gave the access token, seconds: sizes Claude Code's helper TTL. */
  lifetimeSeconds: z.number().int().positive().optional(),
  scope: z.string().optional(),
  /** RFC 8707 resource the tokens were asked for, repeated on refresh. */
  resource: z.string().optional(),
});
export type CachedTokens = z.infer<typeof CachedTokens>;

/** The cache path: `--cache`, else $XDG_CONFIG_HOME/sluice/credentials.json (~/.config by default). */
export function credentialsPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  const base = env.XDG_CONFIG_HOME?.trim() ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  return join(base, 'sluice', 'credentials.json');
}

/** Reads the cache; undefined when there is none. A damaged file is an error, never silently ignored. */
export async function readCachedTokens(path: string): Promise<CachedTokens | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON`);
  }
  const parsed = CachedTokens.safeParse(json);
  if (!parsed.success) throw new Error(`${path} is not a sluice credentials file`);
  return parsed.data;
}

/**
 * Writes the cache with mode 0600 (its directory 0700 when created): tokens are credentials.
 * The temp file is created 0600 before any byte is written, then renamed over the old one.
 */
export async function writeCachedTokens(path: string, tokens: CachedTokens): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await rm(tmp, { force: true }); // a leftover of a crashed run would make 'wx' fail
  await writeFile(tmp, `${JSON.stringify(CachedTokens.parse(tokens), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  // writeFile's mode is filtered by the umask; 0600 is what we want whatever the umask says.
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** A lock older than this was left by a crashed process (a refresh takes a few seconds at most). */
const STALE_LOCK_MS = 30_000;

/**
 * Runs `fn` while holding `<cache>.lock` (created exclusively), so that two `sluice token --print`
 * never spend the same refresh token: providers rotate them and treat a second use as theft,
 * revoking the whole sign-in. Hand-written because no lock library is a dependency; a lock that
 * outlived STALE_LOCK_MS is taken over.
 */
export async function withCacheLock<T>(path: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0, // removed meanwhile: try again at once
    );
    if (age > STALE_LOCK_MS) await rm(lock, { force: true });
    else if (Date.now() > deadline) throw new Error(`${lock} is held by another sluice process`);
    else await delay(50); // another process is refreshing: its result is what we want
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
