import { STATE_CHANNEL, type StateDb, type StateLogger } from './state-db.ts';

/** Tables whose changes are fed to subscribers, with the column that says when a row last changed. */
const POLLED_TABLES: Readonly<Record<string, string>> = { approvals: 'updated_at', grants: 'updated_at' };

/** How far back a poll looks beyond its interval: a transaction's now() can precede its commit. */
const POLL_OVERLAP_SECONDS = 5;

/**
 * Changes made by any instance, delivered as `(table, id)`: from LISTEN/NOTIFY (one listening
 * connection per instance) and, as a fallback for a lost notification or a listening connection
 * that is down, from polling each subscribed table while someone waits. A change may be
 * delivered twice; subscribers re-read the row, so that is harmless.
 */
export class StateFeed {
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  #stopListening: (() => Promise<void>) | undefined;
  readonly #poller: NodeJS.Timeout;

  private constructor(
    private readonly db: StateDb,
    pollIntervalMs: number,
    private readonly log: StateLogger,
  ) {
    this.#poller = setInterval(() => void this.poll(pollIntervalMs / 1000 + POLL_OVERLAP_SECONDS), pollIntervalMs);
    this.#poller.unref();
  }

  static async open(db: StateDb, pollIntervalMs: number, log: StateLogger): Promise<StateFeed> {
    const feed = new StateFeed(db, pollIntervalMs, log);
    feed.#stopListening = await db.listen(
      STATE_CHANNEL,
      (payload) => feed.#deliver(payload),
      // Back after a lost connection: whatever was announced meanwhile is re-read.
      () => void feed.poll(60),
    );
    return feed;
  }

  /**
   * Calls `onChange(id)` for each changed row of `table`. `waiting` says whether anyone needs
   * changes right now; only then does the polling fallback query the table.
   */
  subscribe(table: string, onChange: (id: string) => void, waiting: () => boolean = () => true): () => void {
    const set = this.#subscribers.get(table) ?? new Set<Subscriber>();
    const subscriber = { onChange, waiting };
    set.add(subscriber);
    this.#subscribers.set(table, set);
    return () => set.delete(subscriber);
  }

  /** Re-reads the rows of subscribed tables changed in the last `seconds` and delivers them. */
  async poll(seconds: number): Promise<void> {
    for (const [table, subscribers] of this.#subscribers) {
      const column = POLLED_TABLES[table];
      if (!column || ![...subscribers].some((s) => s.waiting())) continue;
      try {
        const rows = await this.db.query<{ id: string }>(
          `SELECT id FROM ${table} WHERE ${column} > now() - make_interval(secs => $1)`,
          [seconds],
        );
        for (const { id } of rows) for (const s of subscribers) s.onChange(id);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, table }, 'state poll failed');
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#poller);
    await this.#stopListening?.();
  }

  #deliver(payload: string): void {
    const at = payload.indexOf(':');
    if (at < 0) return;
    const subscribers = this.#subscribers.get(payload.slice(0, at));
    const id = payload.slice(at + 1);
    for (const s of subscribers ?? []) s.onChange(id);
  }
}

interface Subscriber {
  readonly onChange: (id: string) => void;
  readonly waiting: () => boolean;
}
