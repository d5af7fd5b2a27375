import type { Approval, ApprovalState } from '../access/approval-store.ts';
import type { AccessGrant, GrantState } from '../access/grant-store.ts';
import type { JitSession } from '../access/session-store.ts';

/** The kinds of shared state, one compacted topic each. */
export type StateKind = 'approvals' | 'sessions' | 'grants';

/** The record type of each kind. */
export interface StateRecords {
  readonly approvals: Approval;
  readonly sessions: JitSession;
  readonly grants: AccessGrant;
}

/*
 * Records only ever move forward through their lifecycle, so two copies of one record are merged
 * by taking the one further along: a total order per kind, and every instance keeps the maximum.
 * That is a join (max is commutative, associative, idempotent), so instances converge whatever
 * order they see the writes in, without trusting clocks for approvals and grants. Concurrent
 * conflicting moves (approve on A, deny on B) resolve the same way everywhere, to the safe side.
 */

// pending < approved < denied (a concurrent deny beats an approve) < expired < used.
const APPROVAL_RANK: Record<ApprovalState, number> = { pending: 0, approved: 1, denied: 2, expired: 3, used: 4 };
// requested < approved < denied < expired < revoked.
const GRANT_RANK: Record<GrantState, number> = { requested: 0, approved: 1, denied: 2, expired: 3, revoked: 4 };

/** Last tie-break: any fixed order of the serialized records, so the choice is the same everywhere. */
function byContent(a: unknown, b: unknown): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x === y ? 0 : x > y ? 1 : -1;
}

function compareApprovals(a: Approval, b: Approval): number {
  return APPROVAL_RANK[a.state] - APPROVAL_RANK[b.state] || byContent(a, b);
}

function compareGrants(a: AccessGrant, b: AccessGrant): number {
  return GRANT_RANK[a.state] - GRANT_RANK[b.state] || byContent(a, b);
}

/**
 * Revoked beats active. Two active copies: the later touch wins (lastSeenAt, then requests), so
 * idle checks everywhere see the newest use. Two revoked copies: the later revokedAt wins, as it
 * refuses more tokens (the safe side). Request counts are per-copy and may undercount when two
 * instances touch one session in the same instant.
 */
function compareSessions(a: JitSession, b: JitSession): number {
  const rank = (s: JitSession): number => (s.state === 'revoked' ? 1 : 0);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (a.state === 'revoked') return (a.revokedAt ?? '').localeCompare(b.revokedAt ?? '') || byContent(a, b);
  return a.lastSeenAt.localeCompare(b.lastSeenAt) || a.requests - b.requests || byContent(a, b);
}

const COMPARE: { readonly [K in StateKind]: (a: StateRecords[K], b: StateRecords[K]) => number } = {
  approvals: compareApprovals,
  sessions: compareSessions,
  grants: compareGrants,
};

/** True when `incoming` should replace `current` (or there is no current copy). */
export function supersedes<K extends StateKind>(
  kind: K,
  incoming: StateRecords[K],
  current: StateRecords[K] | undefined,
): boolean {
  return (
    current === undefined ||
    (COMPARE[kind] as (a: StateRecords[K], b: StateRecords[K]) => number)(incoming, current) > 0
  );
}
