import { EventEmitter } from 'node:events';
import type { Approval, ApprovalChange, ApprovalState, ApprovalStore } from '../access/approval-store.ts';
import { LRUCache } from 'lru-cache';
import type { StoreOptions } from './sql-session-store.ts';
import { announce, type StateDb } from './state-db.ts';
import type { StateFeed } from './state-feed.ts';

interface Row {
  readonly doc: Approval;
  readonly state: ApprovalState;
}

const TABLE = 'approvals';

/**
 * Approvals in the state database. A transition is one conditional UPDATE (`… WHERE state =
 * from`), so of two approvers, or two instances using one approval, exactly one wins. Every
 * change is announced with NOTIFY, so a call held on any instance wakes when it is decided.
 */
export class SqlApprovalStore implements ApprovalStore {
  readonly #events = new EventEmitter();
  readonly #stopFeed: () => void;
  /** Single writer only: approvals by id, as resubmissions and held calls read them. */
  readonly #byId: LRUCache<string, Approval> | undefined;

  constructor(
    private readonly db: StateDb,
    feed: StateFeed,
    options: StoreOptions = { singleWriter: false },
  ) {
    this.#byId = options.singleWriter ? new LRUCache({ max: 10_000 }) : undefined;
    // One listener per held request; hundreds may wait at once.
    this.#events.setMaxListeners(0);
    this.#stopFeed = feed.subscribe(
      TABLE,
      (id) => void this.#reload(id),
      () => this.#events.listenerCount('change') > 0,
    );
  }

  async create(approval: Approval): Promise<Approval> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO approvals (id, state, subject, created_at, expires_at, doc)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
        [
          approval.id,
          approval.state,
          approval.subject,
          approval.createdAt,
          approval.expiresAt,
          JSON.stringify(approval),
        ],
      );
      await announce(tx, TABLE, approval.id);
    });
    this.#byId?.set(approval.id, approval);
    this.#events.emit('change', approval);
    return approval;
  }

  async get(id: string): Promise<Approval | undefined> {
    const cached = this.#byId?.get(id);
    if (cached) return cached;
    const [row] = await this.db.query<Row>('SELECT state, doc FROM approvals WHERE id = $1', [id]);
    const approval = row && toApproval(row);
    if (approval) this.#byId?.set(id, approval);
    return approval;
  }

  async list(filter: { readonly state?: ApprovalState; readonly dueBy?: Date } = {}): Promise<Approval[]> {
    const rows = await this.db.query<Row>(
      `SELECT state, doc FROM approvals
       WHERE ($1::text IS NULL OR state = $1)
         AND ($2::timestamptz IS NULL OR (state IN ('pending', 'approved') AND expires_at <= $2))
       ORDER BY created_at DESC`,
      [filter.state ?? null, filter.dueBy?.toISOString() ?? null],
    );
    return rows.map(toApproval);
  }

  async transition(id: string, from: ApprovalState, change: ApprovalChange): Promise<Approval | undefined> {
    const next = await this.db.transaction(async (tx) => {
      const [row] = await tx.query<Row>(
        `UPDATE approvals SET state = $3, doc = doc || $4::jsonb, updated_at = now()
         WHERE id = $1 AND state = $2 RETURNING state, doc`,
        [id, from, change.state, JSON.stringify(change)],
      );
      if (row) await announce(tx, TABLE, id);
      return row && toApproval(row);
    });
    if (next) {
      this.#byId?.set(id, next);
      this.#events.emit('change', next);
    }
    return next;
  }

  watch(listener: (approval: Approval) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async pruneEnded(before: Date): Promise<number> {
    const rows = await this.db.query(
      // Last touched: the newest of its own times, as the service's clock wrote them.
      `DELETE FROM approvals WHERE state IN ('denied', 'expired', 'used')
         AND greatest(created_at, expires_at, (doc->>'usedAt')::timestamptz) < $1 RETURNING id`,
      [before.toISOString()],
    );
    for (const row of rows as Array<{ id: string }>) this.#byId?.delete(row.id);
    return rows.length;
  }

  async close(): Promise<void> {
    this.#stopFeed();
  }

  /** A change announced by any instance: read it and tell the local watchers (held calls). */
  async #reload(id: string): Promise<void> {
    // Without watchers nobody waits here: skip the read.
    if (this.#events.listenerCount('change') === 0) return;
    const approval = await this.get(id).catch(() => undefined);
    if (approval) this.#events.emit('change', approval);
  }
}

function toApproval(row: Row): Approval {
  return { ...row.doc, state: row.state };
}
