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

/** Where grants live, shared by every instance; `transition` is a compare-and-set. */
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
  /** Forgets denied, revoked and expired grants last changed before `before`; returns how many. */
  pruneEnded(before: Date): Promise<number>;
  close(): Promise<void>;
}
