/** Replicated stores publish every local write and merge remote copies through the local store. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileApprovalStore, type Approval } from '../../../gateway/access/approval-store.ts';
import { FileGrantStore } from '../../../gateway/access/grant-store.ts';
import { FileSessionStore } from '../../../gateway/access/session-store.ts';
import type { StateTarget } from '../../../gateway/state/kafka-state-replicator.ts';
import { replicateStores, type StateRegistry } from '../../../gateway/state/replicated-stores.ts';
import type { StateKind, StateRecords } from '../../../gateway/state/state-merge.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-repl-'));
  dirs.push(dir);
  const published: Array<[StateKind, { id: string; state: string }]> = [];
  const targets = new Map<StateKind, StateTarget<StateKind>>();
  const registry = {
    publish: (kind: StateKind, record: StateRecords[StateKind]) => void published.push([kind, record]),
    register: (kind: StateKind, target: StateTarget<StateKind>) => void targets.set(kind, target),
  } as StateRegistry;
  const local = {
    approvals: FileApprovalStore.open(dir),
    sessions: FileSessionStore.open(dir),
    grants: FileGrantStore.open(dir),
  };
  return {
    stores: replicateStores(local, registry),
    published,
    approvals: targets.get('approvals') as unknown as StateTarget<'approvals'>,
  };
}

const pending: Approval = {
  id: 'apr_1',
  state: 'pending',
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
  expiresAt: '2099-01-01T00:00:00.000Z',
  verdict: null,
  usedAt: null,
  usedByDecisionId: null,
};

describe('replicated stores', () => {
  it('publishes local writes, not failed compare-and-sets', async () => {
    const { stores, published } = await setup();
    await stores.approvals.create(pending);
    expect(await stores.approvals.transition('apr_1', 'approved', { state: 'used' })).toBeUndefined();
    await stores.approvals.transition('apr_1', 'pending', { state: 'denied' });
    expect(published.map(([k, r]) => `${k}:${r.state}`)).toEqual(['approvals:pending', 'approvals:denied']);
  });

  it('merges a remote decision into the local store and wakes its watchers, without re-publishing it', async () => {
    const { stores, published, approvals } = await setup();
    await stores.approvals.create(pending);
    const seen: string[] = [];
    stores.approvals.watch((a) => seen.push(a.state));
    const approved: Approval = {
      ...pending,
      state: 'approved',
      verdict: { approver: 'bob', approverGroups: ['admins'], at: '2026-01-01T00:01:00.000Z', comment: 'ok' },
    };
    await approvals.apply(approved);
    await approvals.apply(pending); // an older copy arriving late changes nothing
    expect(seen).toEqual(['approved']);
    expect(await stores.approvals.get('apr_1')).toEqual(approved);
    expect(published).toHaveLength(1);
    expect(await approvals.records()).toEqual([approved]);
  });
});
