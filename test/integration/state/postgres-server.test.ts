/**
 * The real PostgreSQL server that the shared-state tests run against (scripts/postgres.sh through
 * test/helpers/postgres-server.ts): it answers on loopback only, keeps committed data across a
 * restart and a crash, stops and removes its directory, and its watchdog stops a server whose test
 * process died before its teardown.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPostgres, type PostgresServer } from '../../helpers/postgres-server.ts';

const SCRIPT = new URL('../../../scripts/postgres.sh', import.meta.url).pathname;

let server: PostgresServer;

/** One query on a fresh connection, closed afterwards. */
async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const startedAt = async (): Promise<string> =>
  (await query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t'))[0]!.t;

beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 60_000);

describe('scripts/postgres.sh (a real PostgreSQL server)', () => {
  it('serves database sluice to user sluice on 127.0.0.1 only, with its sockets in its own dir', async () => {
    expect(server.url).toMatch(/^postgres:\/\/sluice@127\.0\.0\.1:\d+\/sluice$/);
    const [row] = await query<{ db: string; usr: string; listen: string; sockets: string; version: string }>(
      `SELECT current_database() AS db, current_user AS usr, current_setting('listen_addresses') AS listen,
              current_setting('unix_socket_directories') AS sockets, current_setting('server_version_num') AS version`,
    );
    expect(row).toMatchObject({ db: 'sluice', usr: 'sluice', listen: '127.0.0.1', sockets: server.dir });
    expect(Number(row!.version)).toBeGreaterThanOrEqual(150000);
    await query('CREATE TABLE t (id int PRIMARY KEY, note text)');
    await query(`INSERT INTO t VALUES (1, 'before restart')`);
  });

  it('restart: connected clients are cut off, the data and the URL stay', async () => {
    const before = await startedAt();
    const client = new pg.Client({ connectionString: server.url });
    // pg reports a dropped connection more than once (the server's notice, then the closed socket).
    const errors: Error[] = [];
    client.on('error', (err) => errors.push(err));
    const ended = new Promise((resolve) => client.once('end', resolve)); // events.once would reject on 'error'
    await client.connect();
    await server.restart();
    // A pool's view of "the database restarted": the old connection is gone, a new one works.
    await ended;
    expect(errors[0]?.message).toMatch(/terminating connection due to administrator command/);
    expect(await startedAt()).not.toBe(before);
    expect(await query('SELECT note FROM t')).toEqual([{ note: 'before restart' }]);
  });

  it('kill: connections are refused until restart, and committed data survives the crash', async () => {
    await query(`INSERT INTO t VALUES (2, 'before kill')`);
    await server.kill();
    await expect(query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(server.dir)).toBe(true);
    await server.restart();
    expect(await query('SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('stop: the server goes away with its directory; a second stop does nothing', async () => {
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
    await expect(query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await expect(server.stop()).resolves.toBeUndefined();
  });

  it('the watchdog stops the server and removes its dir when the watched process dies', async () => {
    const watched = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(watched, 'spawn');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-watch-'));
    const env = { ...process.env, SLUICE_PG_WATCH_PID: String(watched.pid) };
    const { stdout } = await promisify(execFile)('bash', [SCRIPT, 'start', dir], { env, timeout: 120_000 });
    const url = stdout.trim().split('\n').at(-1)!;
    const probe = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.end();
    };
    await probe();
    watched.kill('SIGKILL');
    await once(watched, 'exit');
    // The watchdog checks once a second; the server's shutdown takes a moment more.
    await vi.waitFor(() => expect(existsSync(dir)).toBe(false), { timeout: 20_000, interval: 200 });
    await expect(probe()).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});
