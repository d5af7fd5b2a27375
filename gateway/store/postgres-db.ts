import pg from 'pg';
import { readFileSync } from 'node:fs';
import { migrate, type Migration } from './migrations.ts';
import { stateUnavailable, type StateDb, type StateLogger } from './state-db.ts';

/** How to reach a PostgreSQL server (`state.postgres`). */
export interface PostgresSettings {
  readonly url: string;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /** TLS: off, or on with the server certificate checked against the system CAs or `caFile`. */
  readonly tls: { readonly mode: 'disable' | 'require' | 'verify-full'; readonly caFile?: string };
}

// int8 (bigint) as a JS number: counters stay far below 2^53, and PGlite answers numbers too.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function clientConfig(settings: PostgresSettings): pg.ClientConfig {
  const { tls } = settings;
  return {
    connectionString: settings.url,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    application_name: 'sluice',
    types,
    ssl:
      tls.mode === 'disable'
        ? false
        : {
            rejectUnauthorized: tls.mode === 'verify-full',
            ...(tls.caFile ? { ca: readFileSync(tls.caFile, 'utf8') } : {}),
          },
  };
}

/** Opens a pool on a PostgreSQL server and applies the schema migrations (one instance at a time). */
export async function openPostgres(
  settings: PostgresSettings,
  migrations: readonly Migration[],
  log: StateLogger,
): Promise<StateDb> {
  const pool = new pg.Pool({ ...clientConfig(settings), max: settings.poolSize });
  // An idle client's connection dropping must not crash the process; the next query reconnects.
  pool.on('error', (err) => log.warn({ err: err.message }, 'state database connection lost'));
  const listeners = new Set<pg.Client>();
  let closed = false;
  const run = <Row>(client: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[]): Promise<Row[]> =>
    client.query(sql, [...params]).then(
      (r) => r.rows as Row[],
      (err: unknown) => {
        throw stateUnavailable(err);
      },
    );
  const db: StateDb = {
    kind: 'postgres',
    query: (sql, params = []) => run(pool, sql, params),
    async transaction(work) {
      const client = await pool.connect().catch((err: unknown) => {
        throw stateUnavailable(err);
      });
      let broken = false;
      // A checked-out client whose connection dies between statements emits 'error' with no query
      // to take it; unheard, that event would crash the process. Heard, the next statement fails.
      const onError = (): void => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await run(client, 'BEGIN', []);
        const result = await work({ query: (sql, params = []) => run(client, sql, params) });
        await run(client, 'COMMIT', []);
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async listen(channel, onPayload, onReconnect) {
      let client: pg.Client | undefined;
      let stopped = false;
      let backoffMs = 100;
      const connect = async (isReconnect: boolean): Promise<void> => {
        const c = new pg.Client(clientConfig(settings));
        c.on('notification', (n) => n.channel === channel && onPayload(n.payload ?? ''));
        c.on('error', (err) => log.warn({ err: err.message }, 'state notifications connection lost'));
        c.on('end', () => {
          listeners.delete(c);
          if (stopped || closed) return;
          setTimeout(() => void retry(), backoffMs).unref();
        });
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        listeners.add(c);
        client = c;
        backoffMs = 100;
        if (isReconnect) onReconnect?.();
      };
      // A lost LISTEN connection is reopened with backoff; onReconnect re-reads what may have been missed.
      const retry = async (): Promise<void> => {
        if (stopped || closed) return;
        try {
          await connect(true);
        } catch {
          backoffMs = Math.min(backoffMs * 2, 5000);
          setTimeout(() => void retry(), backoffMs).unref();
        }
      };
      await connect(false).catch((err: unknown) => {
        throw stateUnavailable(err);
      });
      return async () => {
        stopped = true;
        await client?.end().catch(() => undefined);
      };
    },
    async close() {
      closed = true;
      await Promise.all([...listeners].map((c) => c.end().catch(() => undefined)));
      await pool.end();
    },
  };
  try {
    await migrate(db, migrations);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
