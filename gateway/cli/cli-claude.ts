import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.ts';
import { credentialsPath, readCachedTokens } from './login-cache.ts';
import { DEFAULT_MIN_TTL_SECONDS } from './token-print.ts';

/** The repo root from gateway/cli/ and from its compiled copy dist/cli/ alike. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Claude Code re-runs the helper this often when the token lifetime is unknown. */
export const DEFAULT_HELPER_TTL_MS = 240_000;

/** Flags of `sluice claude configure`. */
export interface ClaudeConfigureOptions {
  readonly 'base-url'?: string;
  readonly settings?: string;
  readonly cache?: string;
  readonly config?: string;
}

/** Quotes a word for /bin/sh, which runs Claude Code's apiKeyHelper. */
function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The base URL: the flag, else the config's public URL or listen address, else the embedded default. */
function baseUrl(opts: ClaudeConfigureOptions, env: NodeJS.ProcessEnv): string {
  if (opts['base-url']) return new URL(opts['base-url']).href.replace(/\/$/, '');
  const config = loadConfig(opts.config, env);
  if (config.approvals.publicUrl) return config.approvals.publicUrl.replace(/\/$/, '');
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${config.listen.port}`;
}

/**
 * `sluice claude configure`: points Claude Code at Sluice in its settings.json — `apiKeyHelper`
 * runs `sluice token --print`, `env.ANTHROPIC_BASE_URL` is Sluice, and the helper is asked again
 * before the cached token's lifetime runs out. Other keys are kept; a new file is mode 0600.
 */
export async function claudeCommand(
  args: readonly string[],
  opts: ClaudeConfigureOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (args[0] !== 'configure' || args.length > 1)
    throw new Error('usage: sluice claude configure [--base-url URL] [--settings FILE] [--cache FILE]');
  const settingsPath = resolve(opts.settings ?? join(env.HOME ?? homedir(), '.claude', 'settings.json'));
  const url = baseUrl(opts, env);
  const helper = [process.execPath, join(ROOT, 'gateway', 'bin', 'sluice.mjs'), 'token', '--print'];
  if (opts.cache) helper.push('--cache', resolve(opts.cache));
  const cached = await readCachedTokens(credentialsPath(opts.cache, env)).catch(() => undefined);
  // Ask again one refresh margin before the token ends, so a request never carries an expired one.
  const ttlMs = cached?.lifetimeSeconds
    ? Math.max(10_000, (cached.lifetimeSeconds - DEFAULT_MIN_TTL_SECONDS) * 1000)
    : DEFAULT_HELPER_TTL_MS;

  const settings = await readSettings(settingsPath);
  const envBlock = typeof settings.env === 'object' && settings.env !== null ? (settings.env as object) : {};
  const next = {
    ...settings,
    apiKeyHelper: helper.map(shQuote).join(' '),
    env: { ...envBlock, ANTHROPIC_BASE_URL: url, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: String(ttlMs) },
  };
  await mkdir(dirname(settingsPath), { recursive: true, mode: 0o700 });
  const tmp = `${settingsPath}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  // A new file is 0600 whatever the umask; an existing one keeps the mode its owner gave it.
  await chmod(tmp, settings === EMPTY ? 0o600 : (await stat(settingsPath)).mode & 0o777);
  await rename(tmp, settingsPath);
  process.stderr.write(
    `Claude Code settings updated in ${settingsPath}: ANTHROPIC_BASE_URL=${url}, ` +
      `apiKeyHelper runs \`sluice token --print\` (every ${Math.round(ttlMs / 1000)} s)\n`,
  );
  return 0;
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** The current settings; EMPTY when the file does not exist. A file that is not a JSON object is left alone. */
async function readSettings(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON; fix or remove it first (nothing was changed)`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${path} does not hold a JSON object; fix or remove it first (nothing was changed)`);
  return json as Record<string, unknown>;
}
