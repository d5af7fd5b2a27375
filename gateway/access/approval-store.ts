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
 * Where approvals live, shared by every instance. `transition` is the only way to change state
 * and is a compare-and-set, so two approvers (or two resubmissions) cannot both win.
 */
export interface ApprovalStore {
  create(approval: Approval): Promise<Approval>;
  get(id: string): Promise<Approval | undefined>;
  /**
   * Approvals, newest first: all, or those in `state`, or (with `dueBy`) the pending and
   * approved ones whose time ran out by then.
   */
  list(filter?: { readonly state?: ApprovalState; readonly dueBy?: Date }): Promise<Approval[]>;
  /** Applies `change` only if the approval is currently in `from`; otherwise returns undefined. */
  transition(id: string, from: ApprovalState, change: ApprovalChange): Promise<Approval | undefined>;
  /** Calls `listener` after every create or transition, on any instance; returns the unsubscribe function. */
  watch(listener: (approval: Approval) => void): () => void;
  /** Forgets denied, expired and used approvals last changed before `before`; returns how many. */
  pruneEnded(before: Date): Promise<number>;
  close(): Promise<void>;
}
