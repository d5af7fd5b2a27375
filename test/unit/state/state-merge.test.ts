/** The merge rule of shared state: every order of the same copies converges to one winner, the safe one. */
import { describe, expect, it } from 'vitest';
import type { Approval } from '../../../gateway/access/approval-store.ts';
import type { JitSession } from '../../../gateway/access/session-store.ts';
import { supersedes, type StateKind, type StateRecords } from '../../../gateway/state/state-merge.ts';

const approval = (state: Approval['state'], approver = 'bob'): Approval => ({
  id: 'apr_1',
  state,
  subject: 'alice',
  requesterGroups: [],
  connection: 'anthropic',
  operation: 'messages.create',
  model: null,
  bodySha256: 'x',
  reason: 'r',
  labels: {},
  findings: {},
  approverGroups: ['admins'],
  decisionId: 'd',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-01T01:00:00.000Z',
  verdict:
    state === 'pending' ? null : { approver, approverGroups: ['admins'], at: '2026-01-01T00:01:00.000Z', comment: 'c' },
  usedAt: null,
  usedByDecisionId: null,
});
const session = (over: Partial<JitSession>): JitSession => ({
  id: 'ses_1',
  subject: 'carol',
  connection: 'anthropic',
  state: 'active',
  openedAt: '2026-01-01T00:00:00.000Z',
  lastSeenAt: '2026-01-01T00:00:00.000Z',
  requests: 1,
  idleTimeoutSeconds: 900,
  revokedAt: null,
  revokedCause: null,
  revokedBy: null,
  ...over,
});

/** The copy every instance keeps after seeing `copies` in this order. */
function merged<K extends StateKind>(kind: K, copies: ReadonlyArray<StateRecords[K]>): StateRecords[K] | undefined {
  let current: StateRecords[K] | undefined;
  for (const c of copies) if (supersedes(kind, c, current)) current = c;
  return current;
}
const permutations = <T>(xs: readonly T[]): T[][] =>
  xs.length <= 1
    ? [[...xs]]
    : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));

describe('shared state merge', () => {
  it('moves approvals forward only, a concurrent deny beats an approve, and all orders agree', () => {
    const copies = [approval('pending'), approval('approved', 'bob'), approval('denied', 'dave')];
    const results = permutations(copies).map((order) => merged('approvals', order));
    for (const r of results) expect(r).toEqual(copies[2]);
    expect(supersedes('approvals', approval('pending'), approval('approved'))).toBe(false);
    expect(supersedes('approvals', approval('used'), approval('expired'))).toBe(true);
    expect(supersedes('approvals', approval('approved'), approval('approved'))).toBe(false); // own echo: no-op
  });

  it('keeps the newest touch of an active session, and a revocation over any touch', () => {
    const older = session({ lastSeenAt: '2026-01-01T00:00:05.000Z', requests: 2 });
    const newer = session({ lastSeenAt: '2026-01-01T00:00:09.000Z', requests: 3 });
    const revoked = session({
      state: 'revoked',
      revokedAt: '2026-01-01T00:00:07.000Z',
      revokedCause: 'admin',
      revokedBy: 'bob',
    });
    for (const order of permutations([older, newer, revoked])) expect(merged('sessions', order)).toEqual(revoked);
    expect(merged('sessions', [newer, older])).toEqual(newer);
    const laterRevoke = { ...revoked, revokedAt: '2026-01-01T00:00:08.000Z' };
    expect(merged('sessions', [laterRevoke, revoked])).toEqual(laterRevoke); // refuses more tokens
  });
});
