/**
 * A real PostgreSQL server for one test file, run by scripts/postgres.sh in a fresh temp dir on a
 * free loopback port. The script's watchdog stops it and removes the dir if this test process dies
 * before its teardown.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/postgres.sh', import.meta.url).pathname;

/** A running server and the controls a test needs to disturb it. */
export interface PostgresServer {
  /** `postgres://sluice@127.0.0.1:<port>/sluice`: trusted, no password. */
  readonly url: string;
  /** The server's own directory (data, sockets, log); gone after stop(). */
  readonly dir: string;
  /** Clean shutdown, then the dir is removed. Safe to call twice. */
  stop(): Promise<void>;
  /** Fast restart (clients are disconnected) on the same port and data. Also starts a killed server. */
  restart(): Promise<void>;
  /** Immediate shutdown, like a crash: committed data survives, restart() brings it back. */
  kill(): Promise<void>;
}

/** Starts a fresh cluster with an empty `sluice` database (about a second). */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-'));
  const env = { ...process.env, SLUICE_PG_WATCH_PID: String(process.pid) };
  const script = async (command: string): Promise<string> =>
    (await run('bash', [SCRIPT, command, dir], { env, timeout: 120_000 })).stdout;
  // The script's last stdout line is the URL; everything else it says goes to stderr.
  let url: string;
  try {
    url = (await script('start')).trim().split('\n').at(-1) ?? '';
    if (!url.startsWith('postgres://')) throw new Error(`scripts/postgres.sh start printed no URL: ${url}`);
  } catch (err) {
    // A half-started server (e.g. createdb failed) must not outlive the failed test.
    await script('stop').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    dir,
    stop: async () => void (await script('stop')),
    restart: async () => void (await script('restart')),
    kill: async () => void (await script('kill')),
  };
}
