import { join } from 'node:path';
import { DurableRecords } from './durable-records.ts';

/** requested → approved | denied; approved → revoked | expired (at expiresAt). */
export type GrantState = 'requested' | 'approved' | 'denied' | 'revoked' | 'expired';

/**
 * A time-bounded access grant: `subject` may use `connection` for `durationMinutes` after an
 * approver approved it. The policy sees active grants in `input.session.grants` and may require
 * one before any call on a connection is allowed.
 */
export interface AccessGrant {
  readonly id: string;
  readonly state: GrantState;
  readonly subject: string;
  readonly connection: string;
  readonly durationMinutes: number;
  /** The requester's justification, shown to approvers. */
  readonly reason: string;
  readonly approverGroups: readonly string[];
  readonly requestedAt: string;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  readonly comment: string | null;
  /** Set on approval: decidedAt + durationMinutes. */
  readonly expiresAt: string | null;
}

/** Where grants live; async and compare-and-set like the approval store, for a later shared store. */
export interface GrantStore {
  create(grant: AccessGrant): Promise<AccessGrant>;
  get(id: string): Promise<AccessGrant | undefined>;
  list(): Promise<AccessGrant[]>;
  /** The grants of one subject (any state): what every call's policy input needs, without a scan of all grants. */
  listFor(subject: string): Promise<AccessGrant[]>;
  transition(
    id: string,
    from: GrantState,
    change: Partial<AccessGrant> & { readonly state: GrantState },
  ): Promise<AccessGrant | undefined>;
  /** Drops the grants `keep` declines, from memory and the state file; returns how many. */
  prune(keep: (grant: AccessGrant) => boolean): Promise<number>;
  close(): Promise<void>;
}

/** The embedded default: in memory, durable in `{stateDir}/grants.jsonl`. */
export class FileGrantStore implements GrantStore {
  /** Grant ids per subject, kept beside the records: listFor runs on every call. */
  readonly #bySubject = new Map<string, Set<string>>();

  private constructor(private readonly records: DurableRecords<AccessGrant>) {
    for (const grant of records.values()) this.#index(grant);
  }

  static open(stateDir: string): FileGrantStore {
    return new FileGrantStore(DurableRecords.open<AccessGrant>(join(stateDir, 'grants.jsonl')));
  }

  async create(grant: AccessGrant): Promise<AccessGrant> {
    this.#index(grant);
    return this.records.put(grant);
  }

  async get(id: string): Promise<AccessGrant | undefined> {
    return this.records.get(id);
  }

  async list(): Promise<AccessGrant[]> {
    return this.records.values().sort((a, b) => b.requestedAt.localeCompare(a.requestedAt));
  }

  async listFor(subject: string): Promise<AccessGrant[]> {
    const ids = this.#bySubject.get(subject) ?? [];
    return [...ids].map((id) => this.records.get(id)).filter((g): g is AccessGrant => g !== undefined);
  }

  async transition(
    id: string,
    from: GrantState,
    change: Partial<AccessGrant> & { readonly state: GrantState },
  ): Promise<AccessGrant | undefined> {
    const current = this.records.get(id);
    if (!current || current.state !== from) return undefined;
    const next = { ...current, ...change };
    if (next.subject !== current.subject) {
      this.#unindex(current);
      this.#index(next);
    }
    return this.records.put(next);
  }

  async prune(keep: (grant: AccessGrant) => boolean): Promise<number> {
    return this.records.prune((grant) => {
      if (keep(grant)) return true;
      this.#unindex(grant);
      return false;
    });
  }

  #index(grant: AccessGrant): void {
    const ids = this.#bySubject.get(grant.subject) ?? new Set<string>();
    ids.add(grant.id);
    this.#bySubject.set(grant.subject, ids);
  }

  #unindex(grant: AccessGrant): void {
    const ids = this.#bySubject.get(grant.subject);
    ids?.delete(grant.id);
    if (ids?.size === 0) this.#bySubject.delete(grant.subject);
  }

  async close(): Promise<void> {
    this.records.close();
  }
}
