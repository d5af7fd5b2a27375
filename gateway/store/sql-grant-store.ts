import type { AccessGrant, GrantState, GrantStore } from '../access/grant-store.ts';
import type { StoreOptions } from './sql-session-store.ts';
import { announce, type StateDb } from './state-db.ts';

interface Row {
  readonly doc: AccessGrant;
  readonly state: GrantState;
}

/** Access grants in the state database; a transition is one conditional UPDATE. */
export class SqlGrantStore implements GrantStore {
  /** Single writer only: each subject's grants, as every call reads them. */
  readonly #bySubject: Map<string, AccessGrant[]> | undefined;

  constructor(
    private readonly db: StateDb,
    options: StoreOptions = { singleWriter: false },
  ) {
    this.#bySubject = options.singleWriter ? new Map() : undefined;
  }

  async create(grant: AccessGrant): Promise<AccessGrant> {
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO grants (id, state, subject, requested_at, doc) VALUES ($1, $2, $3, $4, $5::jsonb)', [
        grant.id,
        grant.state,
        grant.subject,
        grant.requestedAt,
        JSON.stringify(grant),
      ]);
      await announce(tx, 'grants', grant.id);
    });
    this.#bySubject?.delete(grant.subject);
    return grant;
  }

  async get(id: string): Promise<AccessGrant | undefined> {
    const [row] = await this.db.query<Row>('SELECT state, doc FROM grants WHERE id = $1', [id]);
    return row && toGrant(row);
  }

  async list(): Promise<AccessGrant[]> {
    const rows = await this.db.query<Row>('SELECT state, doc FROM grants ORDER BY requested_at DESC');
    return rows.map(toGrant);
  }

  async listFor(subject: string): Promise<AccessGrant[]> {
    const cached = this.#bySubject?.get(subject);
    if (cached) return cached;
    const rows = await this.db.query<Row>('SELECT state, doc FROM grants WHERE subject = $1', [subject]);
    const grants = rows.map(toGrant);
    this.#bySubject?.set(subject, grants);
    return grants;
  }

  async transition(
    id: string,
    from: GrantState,
    change: Partial<AccessGrant> & { readonly state: GrantState },
  ): Promise<AccessGrant | undefined> {
    const next = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<Row>(
        `UPDATE grants SET state = $3, doc = doc || $4::jsonb, updated_at = now()
         WHERE id = $1 AND state = $2 RETURNING state, doc`,
        [id, from, change.state, JSON.stringify(change)],
      );
      if (row) await announce(tx, 'grants', id);
      return row && toGrant(row);
    });
    if (next) this.#bySubject?.delete(next.subject);
    return next;
  }

  async pruneEnded(before: Date): Promise<number> {
    const rows = await this.db.query(
      // Last touched: the newest of its own times, as the service's clock wrote them.
      `DELETE FROM grants WHERE state IN ('denied', 'revoked', 'expired')
         AND greatest(requested_at, (doc->>'decidedAt')::timestamptz, (doc->>'expiresAt')::timestamptz) < $1
       RETURNING id`,
      [before.toISOString()],
    );
    if (rows.length > 0) this.#bySubject?.clear();
    return rows.length;
  }

  async close(): Promise<void> {}
}

function toGrant(row: Row): AccessGrant {
  return { ...row.doc, state: row.state };
}
