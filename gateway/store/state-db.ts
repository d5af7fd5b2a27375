import { SluiceError } from '../errors.ts';

/** Something SQL can run on: the database itself, or one transaction on it. */
export interface Queryable {
  /** Runs one statement with $1… parameters and returns its rows. */
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/**
 * The control-plane database: PGlite in-process (the embedded default) or a PostgreSQL server
 * (several instances). Both run the same SQL; this is the only surface the stores use.
 */
export interface StateDb extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `work` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Calls `onPayload` for every NOTIFY on `channel` from any instance (this one included) and
   * `onReconnect` after a lost listening connection comes back, when notifications may have been
   * missed. Returns the function that stops listening.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Logs what happens off the request path (a dropped idle connection, a listener reconnecting). */
export interface StateLogger {
  warn(obj: object, msg: string): void;
}

/** The NOTIFY channel every state change is announced on: `<table>:<id>`. */
export const STATE_CHANNEL = 'sluice_state';

/** Announces a change of row `id` of `table` to every instance, inside the caller's transaction if any. */
export async function announce(db: Queryable, table: string, id: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [STATE_CHANNEL, `${table}:${id}`]);
}

// SQLSTATE classes that mean "the server is not there", not "the statement is wrong":
// 08 connection exception, 53 insufficient resources, 57P admin/crash shutdown, cannot connect now.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3])/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNAVAILABLE_MESSAGE = new RegExp(
  [
    'Connection terminated',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error',
    'not queryable',
  ].join('|'),
);

/**
 * Turns "the database is unreachable" into the coded 503 every caller understands, so a call
 * that needs state fails closed with a clear answer; any other error (a bug, a constraint) is
 * returned as it is.
 */
export function stateUnavailable(err: unknown): unknown {
  if (err instanceof SluiceError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code) || UNAVAILABLE_MESSAGE.test(message)) {
    return new SluiceError(
      'SLUICE_ERR_STATE_UNAVAILABLE',
      `the state database is unreachable (${code || message}); the call was not forwarded, retry shortly`,
    );
  }
  return err;
}

/** Maps a timestamptz column (a Date from either driver) to the ISO string the records carry. */
export function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
