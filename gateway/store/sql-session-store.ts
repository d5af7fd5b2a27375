import type { JitSession, RevokeCause, SessionStore } from '../access/session-store.ts';
import { iso, type StateDb, type StateLogger } from './state-db.ts';

/** How often the batched touches (last use, request count) are written. */
const TOUCH_FLUSH_MS = 250;

interface Row {
  readonly id: string;
  readonly subject: string;
  readonly connection: string;
  readonly state: 'active' | 'revoked';
  readonly opened_at: Date;
  readonly last_seen_at: Date;
  readonly requests: number;
  readonly idle_timeout_seconds: number;
  readonly revoked_at: Date | null;
  readonly revoked_cause: RevokeCause | null;
  readonly revoked_by: string | null;
}

/** Touches not yet written: requests counted and the newest use, per session. */
interface PendingTouch {
  count: number;
  at: string;
  /** subject \0 connection, the key of the session in the read cache. */
  readonly key: string;
}

/** What the store may assume about who else writes the database. */
export interface StoreOptions {
  /**
   * This process is the database's only writer (the embedded PGlite, locked to one process): reads
   * the request path makes are answered from a write-through cache, costing no query. Never set
   * for a shared server, where other instances write.
   */
  readonly singleWriter: boolean;
}

const COLUMNS =
  'id, subject, connection, state, opened_at, last_seen_at, requests, idle_timeout_seconds, ' +
  'revoked_at, revoked_cause, revoked_by';

/**
 * JIT sessions in the state database. The partial unique index on (subject, connection) where
 * active makes "one active session" a fact of the database, not of one process; revocation is a
 * conditional UPDATE, so every instance sees it on its next read.
 */
export class SqlSessionStore implements SessionStore {
  readonly #pending = new Map<string, PendingTouch>();
  /** Single writer only: the newest session row per subject and connection. */
  readonly #latest: Map<string, Row> | undefined;
  readonly #flusher: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: StateDb,
    private readonly log: StateLogger,
    options: StoreOptions = { singleWriter: false },
  ) {
    this.#latest = options.singleWriter ? new Map() : undefined;
    this.#flusher = setInterval(() => void this.flush(), TOUCH_FLUSH_MS);
    this.#flusher.unref();
  }

  async get(id: string): Promise<JitSession | undefined> {
    const [row] = await this.db.query<Row>(`SELECT ${COLUMNS} FROM jit_sessions WHERE id = $1`, [id]);
    return row && this.#withPending(row);
  }

  async latest(subject: string, connection: string): Promise<JitSession | undefined> {
    const cached = this.#latest?.get(keyOf(subject, connection));
    if (cached) return this.#withPending(cached);
    const [row] = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM jit_sessions WHERE subject = $1 AND connection = $2 ORDER BY opened_at DESC LIMIT 1`,
      [subject, connection],
    );
    return row && this.#withPending(this.#remember(row));
  }

  async list(): Promise<JitSession[]> {
    const rows = await this.db.query<Row>(`SELECT ${COLUMNS} FROM jit_sessions`);
    return rows.map((r) => this.#withPending(r)).sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt));
  }

  async open(session: JitSession): Promise<{ session: JitSession; opened: boolean }> {
    const [row] = await this.db.query<Row>(
      `INSERT INTO jit_sessions (${COLUMNS}) VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, NULL, NULL, NULL)
       ON CONFLICT (subject, connection) WHERE state = 'active' DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        session.id,
        session.subject,
        session.connection,
        session.openedAt,
        session.lastSeenAt,
        session.requests,
        session.idleTimeoutSeconds,
      ],
    );
    if (row) return { session: this.#withPending(this.#remember(row)), opened: true };
    const [winner] = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM jit_sessions WHERE subject = $1 AND connection = $2 AND state = 'active'`,
      [session.subject, session.connection],
    );
    // Revoked again between the two statements: rare enough to let the caller retry.
    if (!winner) throw new Error(`session of ${session.subject} on ${session.connection} changed while opening`);
    return { session: this.#withPending(this.#remember(winner)), opened: false };
  }

  async revoke(
    id: string,
    revocation: { readonly at: string; readonly cause: RevokeCause; readonly by: string | null },
  ): Promise<JitSession | undefined> {
    const [row] = await this.db.query<Row>(
      `UPDATE jit_sessions SET state = 'revoked', revoked_at = $2, revoked_cause = $3, revoked_by = $4
       WHERE id = $1 AND state = 'active' RETURNING ${COLUMNS}`,
      [id, revocation.at, revocation.cause, revocation.by],
    );
    return row && this.#withPending(this.#remember(row));
  }

  async revokeIdle(now: Date): Promise<JitSession[]> {
    // Touches made here but not yet written first, so a session in use is not revoked as idle.
    await this.flush();
    const rows = await this.db.query<Row>(
      `UPDATE jit_sessions
       SET state = 'revoked', revoked_cause = 'idle', revoked_by = NULL,
           revoked_at = last_seen_at + make_interval(secs => idle_timeout_seconds)
       WHERE state = 'active' AND last_seen_at + make_interval(secs => idle_timeout_seconds) <= $1
       RETURNING ${COLUMNS}`,
      [now.toISOString()],
    );
    return rows.map((r) => this.#withPending(this.#remember(r)));
  }

  async setIdleTimeout(id: string, seconds: number): Promise<void> {
    const rows = await this.db.query<Row>(
      `UPDATE jit_sessions SET idle_timeout_seconds = $2 WHERE id = $1 AND idle_timeout_seconds <> $2
       RETURNING ${COLUMNS}`,
      [id, seconds],
    );
    for (const row of rows) this.#remember(row);
  }

  touch(session: JitSession, at: string): JitSession {
    const pending = this.#pending.get(session.id);
    if (pending) {
      pending.count += 1;
      if (at > pending.at) pending.at = at;
    } else {
      this.#pending.set(session.id, { count: 1, at, key: keyOf(session.subject, session.connection) });
    }
    return {
      ...session,
      requests: session.requests + 1,
      lastSeenAt: at > session.lastSeenAt ? at : session.lastSeenAt,
    };
  }

  /** Writes the batched touches as increments; kept for the next flush if the database is down. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const batch = [...this.#pending];
      this.#pending.clear();
      // The cached rows take the counts now, so no read sees them neither pending nor written.
      for (const [id, p] of batch) this.#addToCached(id, p, 1);
      try {
        await this.db.query(
          `UPDATE jit_sessions AS s
           SET requests = s.requests + t.count, last_seen_at = greatest(s.last_seen_at, t.at)
           FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS t(id, count, at)
           WHERE s.id = t.id`,
          [batch.map(([id]) => id), batch.map(([, p]) => p.count), batch.map(([, p]) => p.at)],
        );
      } catch (err) {
        for (const [id, p] of batch) {
          this.#addToCached(id, p, -1);
          const newer = this.#pending.get(id);
          this.#pending.set(
            id,
            newer ? { count: newer.count + p.count, at: newer.at > p.at ? newer.at : p.at, key: p.key } : p,
          );
        }
        this.log.warn({ err: (err as Error).message, sessions: batch.length }, 'session touches not written yet');
      }
    });
    return this.#flushing;
  }

  async pruneRevoked(before: Date): Promise<number> {
    const rows = await this.db.query(
      `DELETE FROM jit_sessions WHERE state = 'revoked' AND revoked_at < $1 RETURNING id`,
      [before.toISOString()],
    );
    if (rows.length > 0) this.#latest?.clear();
    return rows.length;
  }

  async close(): Promise<void> {
    clearInterval(this.#flusher);
    await this.flush();
  }

  /** Single writer: keeps `row` as the newest of its subject and connection unless a newer one is cached. */
  #remember(row: Row): Row {
    if (!this.#latest) return row;
    const key = keyOf(row.subject, row.connection);
    const cached = this.#latest.get(key);
    if (!cached || cached.id === row.id || cached.opened_at <= row.opened_at) this.#latest.set(key, row);
    return row;
  }

  /** Single writer: adds (sign 1) or takes back (sign -1) a batch of touches on the cached row. */
  #addToCached(id: string, touch: PendingTouch, sign: 1 | -1): void {
    const cached = this.#latest?.get(touch.key);
    if (!cached || cached.id !== id) return;
    const at = new Date(touch.at);
    this.#latest!.set(touch.key, {
      ...cached,
      requests: Number(cached.requests) + sign * touch.count,
      last_seen_at: sign > 0 && at > cached.last_seen_at ? at : cached.last_seen_at,
    });
  }

  /** The row as a session, with this instance's touches not yet written added in. */
  #withPending(row: Row): JitSession {
    const pending = this.#pending.get(row.id);
    const lastSeenAt = iso(row.last_seen_at)!;
    return {
      id: row.id,
      subject: row.subject,
      connection: row.connection,
      state: row.state,
      openedAt: iso(row.opened_at)!,
      lastSeenAt: pending && pending.at > lastSeenAt ? pending.at : lastSeenAt,
      requests: Number(row.requests) + (pending?.count ?? 0),
      idleTimeoutSeconds: row.idle_timeout_seconds,
      revokedAt: iso(row.revoked_at),
      revokedCause: row.revoked_cause,
      revokedBy: row.revoked_by,
    };
  }
}

function keyOf(subject: string, connection: string): string {
  return `${subject}\u0000${connection}`;
}
