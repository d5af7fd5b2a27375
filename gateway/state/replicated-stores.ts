import type { Approval, ApprovalChange, ApprovalState, ApprovalStore } from '../access/approval-store.ts';
import type { AccessGrant, GrantState, GrantStore } from '../access/grant-store.ts';
import type { JitSession, SessionStore } from '../access/session-store.ts';
import type { AccessStores } from '../access/create-access.ts';
import type { StatePublisher, StateTarget } from './kafka-state-replicator.ts';
import { supersedes } from './state-merge.ts';

/** Something to register each kind's merge target with (the replicator). */
export interface StateRegistry extends StatePublisher {
  register(kind: 'approvals', target: StateTarget<'approvals'>): void;
  register(kind: 'sessions', target: StateTarget<'sessions'>): void;
  register(kind: 'grants', target: StateTarget<'grants'>): void;
}

/**
 * Wraps the local stores so every successful write is also published, and registers how remote
 * copies are merged in: through the local store's own create/transition/update, so a remote
 * approval decision emits the same `watch` notification a local one does and wakes held calls.
 * Reads stay local (no network on the request path).
 */
export function replicateStores(local: AccessStores, registry: StateRegistry): AccessStores {
  registry.register('approvals', {
    apply: (a) => mergeApproval(local.approvals, a),
    records: () => local.approvals.list(),
  });
  registry.register('sessions', {
    apply: (s) => mergeSession(local.sessions, s),
    records: () => local.sessions.list(),
  });
  registry.register('grants', { apply: (g) => mergeGrant(local.grants, g), records: () => local.grants.list() });
  return {
    approvals: new ReplicatedApprovalStore(local.approvals, registry),
    sessions: new ReplicatedSessionStore(local.sessions, registry),
    grants: new ReplicatedGrantStore(local.grants, registry),
  };
}

// Each merge re-reads after a lost compare-and-set: a local write landed in between, and the
// remote copy may no longer be the newer one.
async function mergeApproval(store: ApprovalStore, remote: Approval): Promise<void> {
  for (;;) {
    const current = await store.get(remote.id);
    if (!supersedes('approvals', remote, current)) return;
    const done = current
      ? await store.transition(remote.id, current.state, remote)
      : await store.create(remote).catch(() => undefined);
    if (done) return;
  }
}

async function mergeGrant(store: GrantStore, remote: AccessGrant): Promise<void> {
  for (;;) {
    const current = await store.get(remote.id);
    if (!supersedes('grants', remote, current)) return;
    const done = current ? await store.transition(remote.id, current.state, remote) : await store.create(remote);
    if (done) return;
  }
}

async function mergeSession(store: SessionStore, remote: JitSession): Promise<void> {
  const current = await store.get(remote.id);
  if (!current) {
    await store.create(remote);
    return;
  }
  await store.update(remote.id, (cur) => (supersedes('sessions', remote, cur) ? remote : undefined));
}

class ReplicatedApprovalStore implements ApprovalStore {
  constructor(
    private readonly local: ApprovalStore,
    private readonly out: StatePublisher,
  ) {}

  async create(approval: Approval): Promise<Approval> {
    return this.#sent(await this.local.create(approval))!;
  }
  get(id: string): Promise<Approval | undefined> {
    return this.local.get(id);
  }
  list(filter?: { readonly state?: ApprovalState }): Promise<Approval[]> {
    return this.local.list(filter);
  }
  async transition(id: string, from: ApprovalState, change: ApprovalChange): Promise<Approval | undefined> {
    return this.#sent(await this.local.transition(id, from, change));
  }
  watch(listener: (approval: Approval) => void): () => void {
    return this.local.watch(listener);
  }
  // Local only, like sessions' prune below.
  prune(keep: (approval: Approval) => boolean): Promise<number> {
    return this.local.prune(keep);
  }
  close(): Promise<void> {
    return this.local.close();
  }
  #sent(a: Approval | undefined): Approval | undefined {
    if (a) this.out.publish('approvals', a);
    return a;
  }
}

class ReplicatedGrantStore implements GrantStore {
  constructor(
    private readonly local: GrantStore,
    private readonly out: StatePublisher,
  ) {}

  async create(grant: AccessGrant): Promise<AccessGrant> {
    return this.#sent(await this.local.create(grant))!;
  }
  get(id: string): Promise<AccessGrant | undefined> {
    return this.local.get(id);
  }
  list(): Promise<AccessGrant[]> {
    return this.local.list();
  }
  listFor(subject: string): Promise<AccessGrant[]> {
    return this.local.listFor(subject);
  }
  async transition(
    id: string,
    from: GrantState,
    change: Partial<AccessGrant> & { readonly state: GrantState },
  ): Promise<AccessGrant | undefined> {
    return this.#sent(await this.local.transition(id, from, change));
  }
  // Local only, like sessions' prune below.
  prune(keep: (grant: AccessGrant) => boolean): Promise<number> {
    return this.local.prune(keep);
  }
  close(): Promise<void> {
    return this.local.close();
  }
  #sent(g: AccessGrant | undefined): AccessGrant | undefined {
    if (g) this.out.publish('grants', g);
    return g;
  }
}

class ReplicatedSessionStore implements SessionStore {
  constructor(
    private readonly local: SessionStore,
    private readonly out: StatePublisher,
  ) {}

  get(id: string): Promise<JitSession | undefined> {
    return this.local.get(id);
  }
  latest(subject: string, connection: string): Promise<JitSession | undefined> {
    return this.local.latest(subject, connection);
  }
  list(): Promise<JitSession[]> {
    return this.local.list();
  }
  async create(session: JitSession): Promise<JitSession> {
    return this.#sent(await this.local.create(session))!;
  }
  async update(id: string, change: (current: JitSession) => JitSession | undefined): Promise<JitSession | undefined> {
    return this.#sent(await this.local.update(id, change));
  }
  // Touches are published too: other instances judge idleness from the newest use anywhere.
  async touch(id: string, at: string): Promise<JitSession | undefined> {
    return this.#sent(await this.local.touch(id, at));
  }
  // Local only: each instance prunes its own copy on its own sweep (the compacted topic keeps the
  // record; one merged back at a restart is pruned again at the next sweep).
  prune(keep: (session: JitSession) => boolean): Promise<number> {
    return this.local.prune(keep);
  }
  close(): Promise<void> {
    return this.local.close();
  }
  #sent(s: JitSession | undefined): JitSession | undefined {
    if (s) this.out.publish('sessions', s);
    return s;
  }
}
