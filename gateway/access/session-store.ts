import { join } from 'node:path';
import { DurableRecords } from './durable-records.ts';

/** Why a session ended: it sat idle too long, or someone revoked it. */
export type RevokeCause = 'idle' | 'admin';

/**
 * A just-in-time session of one subject on one connection. It opens on first use and is
 * revoked after `idleTimeoutSeconds` without a request or by an administrator; a revoked
 * session refuses every token issued before `revokedAt`.
 */
export interface JitSession {
  readonly id: string;
  readonly subject: string;
  readonly connection: string;
  readonly state: 'active' | 'revoked';
  readonly openedAt: string;
  readonly lastSeenAt: string;
  readonly requests: number;
  readonly idleTimeoutSeconds: number;
  readonly revokedAt: string | null;
  readonly revokedCause: RevokeCause | null;
  readonly revokedBy: string | null;
}

/**
 * Where sessions live; async so a shared store (a later issue) fits the same contract.
 * `update` is read-modify-write of one session and returns undefined when `change` declines
 * (returns undefined) or the session does not exist.
 */
export interface SessionStore {
  get(id: string): Promise<JitSession | undefined>;
  /** The newest session of `subject` on `connection`, active or revoked. */
  latest(subject: string, connection: string): Promise<JitSession | undefined>;
  list(): Promise<JitSession[]>;
  create(session: JitSession): Promise<JitSession>;
  update(id: string, change: (current: JitSession) => JitSession | undefined): Promise<JitSession | undefined>;
  /**
   * Counts one request at `at` (ISO time). May reach the disk up to a fraction of a second late:
   * a lost touch only makes the session look idle sooner, the safe direction.
   */
  touch(id: string, at: string): Promise<JitSession | undefined>;
  /** Drops the sessions `keep` declines, from memory and the state file; returns how many. */
  prune(keep: (session: JitSession) => boolean): Promise<number>;
  close(): Promise<void>;
}

/**
 * The embedded default: in memory, durable in `{stateDir}/sessions.jsonl`. Without fdatasync:
 * a touch per request must stay cheap, and losing the last touches on power loss only makes
 * a session look idle sooner (the safe direction).
 */
export class FileSessionStore implements SessionStore {
  readonly #records: DurableRecords<JitSession>;
  // subject \0 connection → newest session id, so the per-request lookup is O(1).
  readonly #latest = new Map<string, string>();

  private constructor(records: DurableRecords<JitSession>) {
    this.#records = records;
    const sorted = records.values().sort((a, b) => a.openedAt.localeCompare(b.openedAt));
    for (const s of sorted) this.#latest.set(key(s.subject, s.connection), s.id);
  }

  static open(stateDir: string): FileSessionStore {
    return new FileSessionStore(DurableRecords.open<JitSession>(join(stateDir, 'sessions.jsonl'), { sync: false }));
  }

  async get(id: string): Promise<JitSession | undefined> {
    return this.#records.get(id);
  }

  async latest(subject: string, connection: string): Promise<JitSession | undefined> {
    const id = this.#latest.get(key(subject, connection));
    return id === undefined ? undefined : this.#records.get(id);
  }

  async list(): Promise<JitSession[]> {
    return this.#records.values().sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt));
  }

  async create(session: JitSession): Promise<JitSession> {
    this.#records.put(session);
    // A session opened elsewhere (shared state) may arrive after a newer local one: keep the newest.
    const k = key(session.subject, session.connection);
    const newest = this.#records.get(this.#latest.get(k) ?? '');
    if (!newest || newest.openedAt <= session.openedAt) this.#latest.set(k, session.id);
    return session;
  }

  async update(id: string, change: (current: JitSession) => JitSession | undefined): Promise<JitSession | undefined> {
    const current = this.#records.get(id);
    const next = current && change(current);
    return next && this.#records.put(next);
  }

  async touch(id: string, at: string): Promise<JitSession | undefined> {
    const current = this.#records.get(id);
    // Every request touches its session: written lazily, so the hot path does no file write.
    return current && this.#records.put({ ...current, lastSeenAt: at, requests: current.requests + 1 }, { lazy: true });
  }

  async prune(keep: (session: JitSession) => boolean): Promise<number> {
    const removed = this.#records.prune(keep);
    if (removed > 0) for (const [k, id] of this.#latest) if (!this.#records.get(id)) this.#latest.delete(k);
    return removed;
  }

  async close(): Promise<void> {
    this.#records.close();
  }
}

function key(subject: string, connection: string): string {
  return `${subject}\u0000${connection}`;
}
