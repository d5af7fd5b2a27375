import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { DurableRecords } from './durable-records.ts';

/** pending → approved | denied | expired; approved → used | expired. No other move exists. */
export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired' | 'used';

/** Who decided an approval, when, and what they said. */
export interface ApprovalVerdict {
  readonly approver: string;
  readonly approverGroups: readonly string[];
  readonly at: string;
  readonly comment: string;
}

/**
 * One human approval of one request. It binds the requester (subject), the connection, the
 * operation and the sha256 of the exact body bytes, so an approval can only ever release the
 * request that was shown to the approver. No prompt text is stored (raw content is never written).
 */
export interface Approval {
  readonly id: string;
  readonly state: ApprovalState;
  readonly subject: string;
  readonly requesterGroups: readonly string[];
  readonly connection: string;
  readonly operation: string;
  readonly model: string | null;
  readonly bodySha256: string;
  /** The policy's reason, its labels (the rule that fired) and the findings counts. */
  readonly reason: string;
  readonly labels: Readonly<Record<string, unknown>>;
  readonly findings: Readonly<Record<string, number>>;
  readonly approverGroups: readonly string[];
  /** The exchange that asked for the approval. */
  readonly decisionId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly verdict: ApprovalVerdict | null;
  readonly usedAt: string | null;
  readonly usedByDecisionId: string | null;
}

/** The fields a transition may change besides `state`. */
export type ApprovalChange = Partial<Pick<Approval, 'verdict' | 'usedAt' | 'usedByDecisionId'>> & {
  readonly state: ApprovalState;
};

/**
 * Where approvals live. Every method is async so that a store shared by several Sluice
 * instances (a later issue) fits the same contract; `transition` is the only way to change
 * state and is a compare-and-set, so two approvers (or two resubmissions) cannot both win.
 */
export interface ApprovalStore {
  create(approval: Approval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  /** All approvals, newest first, optionally only those in `state`. */
  list(filter?: { readonly state?: ApprovalState }): Promise<Approval[]>;
  /** Applies `change` only if the approval is currently in `from`; otherwise returns undefined. */
  transition(id: string, from: ApprovalState, change: ApprovalChange): Promise<Approval | undefined>;
  /** Calls `listener` after every create or transition; returns the unsubscribe function. */
  watch(listener: (approval: Approval) => void): () => void;
  /** Drops the approvals `keep` declines, from memory and the state file; returns how many. */
  prune(keep: (approval: Approval) => boolean): Promise<number>;
  close(): Promise<void>;
}

/** The embedded default: in memory, durable in `{stateDir}/approvals.jsonl` (mode 0600). */
export class FileApprovalStore implements ApprovalStore {
  readonly #records: DurableRecords<Approval>;
  readonly #events = new EventEmitter();

  private constructor(records: DurableRecords<Approval>) {
    this.#records = records;
    // One listener per held request; hundreds may wait at once.
    this.#events.setMaxListeners(0);
  }

  static open(stateDir: string): FileApprovalStore {
    return new FileApprovalStore(DurableRecords.open<Approval>(join(stateDir, 'approvals.jsonl')));
  }

  async create(approval: Approval): Promise<Approval> {
    if (this.#records.get(approval.id)) throw new Error(`approval ${approval.id} already exists`);
    this.#records.put(approval);
    this.#events.emit('change', approval);
    return approval;
  }

  async get(id: string): Promise<Approval | undefined> {
    return this.#records.get(id);
  }

  async list(filter: { readonly state?: ApprovalState } = {}): Promise<Approval[]> {
    return this.#records
      .values()
      .filter((a) => filter.state === undefined || a.state === filter.state)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async transition(id: string, from: ApprovalState, change: ApprovalChange): Promise<Approval | undefined> {
    const current = this.#records.get(id);
    if (!current || current.state !== from) return undefined;
    const next = this.#records.put({ ...current, ...change });
    this.#events.emit('change', next);
    return next;
  }

  watch(listener: (approval: Approval) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async prune(keep: (approval: Approval) => boolean): Promise<number> {
    return this.#records.prune(keep);
  }

  async close(): Promise<void> {
    this.#records.close();
  }
}
