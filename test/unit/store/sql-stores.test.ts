/**
 * The SQL stores on PGlite (the embedded default; the same SQL runs on a PostgreSQL server):
 * races decided by the database, counters that add up, migrations that refuse a newer schema.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Approval } from '../../../gateway/access/approval-store.ts';
import type { JitSession } from '../../../gateway/access/session-store.ts';
import { MIGRATIONS, migrate } from '../../../gateway/store/migrations.ts';
import type { StateStores } from '../../../gateway/store/open-state.ts';
import { SqlApprovalStore } from '../../../gateway/store/sql-approval-store.ts';
import { StateFeed } from '../../../gateway/store/state-feed.ts';
import { openTestState } from '../../helpers/test-state.ts';

let state: StateStores;
beforeEach(async () => {
  state = await openTestState();
});
afterEach(async () => {
  await state.close();
});

const quiet = { warn: () => undefined };

function approval(id: string): Approval {
  const now = new Date();
  return {
    id,
    state: 'pending',
    subject: 'idp:alice',
    requesterGroups: ['engineering'],
    connection: 'anthropic',
    operation: 'messages.create',
    model: 'claude-sonnet-4-5',
    bodySha256: 'ab'.repeat(32),
    reason: 'needs review',
    labels: {},
    findings: {},
    approverGroups: ['admins'],
    decisionId: 'dec_1',
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 60_000).toISOString(),
    verdict: null,
    usedAt: null,
    usedByDecisionId: null,
  };
}

function session(id: string, subject = 'idp:alice'): JitSession {
  const now = new Date().toISOString();
  return {
    id,
    subject,
    connection: 'anthropic',
    state: 'active',
    openedAt: now,
    lastSeenAt: now,
    requests: 0,
    idleTimeoutSeconds: 60,
    revokedAt: null,
    revokedCause: null,
    revokedBy: null,
  };
}

describe('approvals', () => {
  it('lets exactly one of 50 concurrent verdicts win, and one of two uses', async () => {
    await state.approvals.create(approval('apr_1'));
    const verdicts = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        state.approvals.transition('apr_1', 'pending', { state: i % 2 ? 'denied' : 'approved' }),
      ),
    );
    const winners = verdicts.filter((v) => v !== undefined);
    expect(winners).toHaveLength(1);
    expect((await state.approvals.get('apr_1'))!.state).toBe(winners[0]!.state);

    await state.approvals.create(approval('apr_2'));
    await state.approvals.transition('apr_2', 'pending', { state: 'approved' });
    const uses = await Promise.all(
      ['dec_a', 'dec_b'].map((d) =>
        state.approvals.transition('apr_2', 'approved', { state: 'used', usedByDecisionId: d }),
      ),
    );
    expect(uses.filter((u) => u !== undefined)).toHaveLength(1);
    expect((await state.approvals.get('apr_2'))!.usedByDecisionId).toMatch(/^dec_[ab]$/);
  });

  it('wakes the watchers of another store on the same database (another instance) by NOTIFY', async () => {
    const feed = await StateFeed.open(state.db, 60_000, quiet);
    const elsewhere = new SqlApprovalStore(state.db, feed);
    try {
      await state.approvals.create(approval('apr_3'));
      const seen = new Promise<Approval>((resolve) => elsewhere.watch((a) => a.state === 'approved' && resolve(a)));
      await state.approvals.transition('apr_3', 'pending', { state: 'approved' });
      expect((await seen).id).toBe('apr_3');
    } finally {
      await elsewhere.close();
      await feed.close();
    }
  });

  it('falls back to polling for a change whose notification never came', async () => {
    const feed = await StateFeed.open(state.db, 60_000, quiet);
    const elsewhere = new SqlApprovalStore(state.db, feed);
    try {
      await state.approvals.create(approval('apr_4'));
      const seen = new Promise<Approval>((resolve) => elsewhere.watch((a) => a.state === 'denied' && resolve(a)));
      // Changed behind the stores' backs: no NOTIFY is sent.
      await state.db.query(`UPDATE approvals SET state = 'denied', updated_at = now() WHERE id = 'apr_4'`);
      await feed.poll(10);
      expect((await seen).id).toBe('apr_4');
    } finally {
      await elsewhere.close();
      await feed.close();
    }
  });

  it('lists the approvals due for expiry and prunes ended ones by their own times', async () => {
    const due = { ...approval('apr_5'), expiresAt: new Date(Date.now() - 1000).toISOString() };
    await state.approvals.create(due);
    await state.approvals.create(approval('apr_6'));
    expect((await state.approvals.list({ dueBy: new Date() })).map((a) => a.id)).toEqual(['apr_5']);
    await state.approvals.transition('apr_5', 'pending', { state: 'expired' });
    expect(await state.approvals.pruneEnded(new Date(Date.now() - 3_600_000))).toBe(0);
    expect(await state.approvals.pruneEnded(new Date(Date.now() + 3_600_000))).toBe(1);
    expect(await state.approvals.get('apr_6')).toBeDefined();
  });
});

describe('sessions', () => {
  it('opens one active session per subject and connection, whoever races', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => state.sessions.open(session(`ses_${i}`))));
    expect(results.filter((r) => r.opened)).toHaveLength(1);
    expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
    const other = await state.sessions.open(session('ses_bob', 'idp:bob'));
    expect(other.opened).toBe(true);
  });

  it('counts every touch once the batch is written, and revokes idle sessions by query', async () => {
    const { session: s } = await state.sessions.open(session('ses_t'));
    let current = s;
    for (let i = 0; i < 100; i++) current = state.sessions.touch(current, new Date().toISOString());
    expect(current.requests).toBe(100);
    await (state.sessions as unknown as { flush(): Promise<void> }).flush();
    const [row] = await state.db.query<{ requests: number }>(`SELECT requests FROM jit_sessions WHERE id = 'ses_t'`);
    expect(Number(row!.requests)).toBe(100);

    expect(await state.sessions.revokeIdle(new Date())).toEqual([]);
    const revoked = await state.sessions.revokeIdle(new Date(Date.now() + 61_000));
    expect(revoked.map((r) => [r.id, r.revokedCause])).toEqual([['ses_t', 'idle']]);
    // Revoked as of the moment it became idle, once: a second sweep (another instance) finds nothing.
    expect(Date.parse(revoked[0]!.revokedAt!)).toBe(Date.parse(revoked[0]!.lastSeenAt) + 60_000);
    expect(await state.sessions.revokeIdle(new Date(Date.now() + 61_000))).toEqual([]);
    expect(await state.sessions.revoke('ses_t', { at: new Date().toISOString(), cause: 'admin', by: 'bob' })).toBe(
      undefined,
    );
  });
});

describe('ownership and console sign-ins', () => {
  it('keeps the first owner of an object and hides deleted ones', async () => {
    const base = { type: 'file' as const, id: 'file_1', connection: 'anthropic', createdAt: new Date().toISOString() };
    await state.ownership.record({ ...base, owner: 'idp:alice', details: { filename: 'a.txt' } });
    const second = await state.ownership.record({ ...base, owner: 'idp:bob', details: {} });
    expect(second.owner).toBe('idp:alice');
    expect((await state.ownership.getMany('anthropic', 'file', ['file_1', 'file_x'])).size).toBe(1);
    expect(await state.ownership.get('other-connection', 'file', 'file_1')).toBeUndefined();
    await state.ownership.forget('anthropic', 'file', 'file_1');
    expect(await state.ownership.get('anthropic', 'file', 'file_1')).toBeUndefined();
    // A deleted id cannot be claimed by somebody else.
    expect((await state.ownership.record({ ...base, owner: 'idp:bob', details: {} })).owner).toBe('idp:alice');
  });

  it("keeps a batch's requests by custom_id, per connection, in chunks, and forgets them", async () => {
    const requests = Array.from({ length: 12_001 }, (_, i) => ({
      customId: `req-${i}`,
      decisionId: `dec-${i}`,
      responseMask: { response: i % 2 === 0 ? ['EMAIL'] : [], style: 'hash' as const },
      budgets:
        i === 0 ? [{ key: 'subject:a', window: 'day' as const, tokens: 10, requests: undefined, costUsd: 1 }] : [],
      model: 'claude-haiku-4-5',
    }));
    await state.batchRequests.record('anthropic', 'msgbatch_1', requests);
    const stored = await state.batchRequests.requests('anthropic', 'msgbatch_1');
    expect(stored.size).toBe(12_001);
    expect(stored.get('req-12000')).toEqual(requests[12_000]);
    expect(stored.get('req-1')?.responseMask).toEqual({ response: [], style: 'hash' });
    expect((await state.batchRequests.requests('secondary', 'msgbatch_1')).size).toBe(0);
    // Each request's usage is claimed for settlement once, however many readers race for it.
    const claims = await Promise.all(
      [0, 1, 2].map(() => state.batchRequests.claimSettlement('anthropic', 'msgbatch_1', ['req-0', 'req-7', 'nope'])),
    );
    expect(claims.flatMap((c) => [...c]).sort()).toEqual(['req-0', 'req-7']);
    expect(await state.batchRequests.claimSettlement('secondary', 'msgbatch_1', ['req-1'])).toEqual(new Set());
    await state.batchRequests.forget('anthropic', 'msgbatch_1');
    expect((await state.batchRequests.requests('anthropic', 'msgbatch_1')).size).toBe(0);
  });

  it('gives a started console login to exactly one callback', async () => {
    const login = { state: 'st_1', codeVerifier: 'v', redirectUri: 'https://sluice.example/cb' };
    await state.consoleSignIns.putLogin('st_1', login, Date.now() + 60_000);
    const takes = await Promise.all([1, 2, 3].map(() => state.consoleSignIns.takeLogin('st_1', Date.now())));
    expect(takes.filter((t) => t !== undefined)).toEqual([login]);
  });
});

describe('migrations', () => {
  it('applies once, and refuses a database migrated by a newer Sluice', async () => {
    await migrate(state.db, MIGRATIONS);
    const rows = await state.db.query<{ version: number }>('SELECT version FROM sluice_schema ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await state.db.query(`INSERT INTO sluice_schema (version, name) VALUES (999, 'from the future')`);
    await expect(migrate(state.db, MIGRATIONS)).rejects.toMatchObject({
      code: 'SLUICE_ERR_START_STATE_SCHEMA_NEWER',
      message: expect.stringMatching(/schema version 999/),
    });
  });
});

describe('the embedded database', () => {
  it('refuses a second open of one state dir while the first is open, and reopens after close', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-lock-'));
    const first = await openTestState(dir);
    await first.ownership.record({
      type: 'batch',
      id: 'msgbatch_1',
      connection: 'anthropic',
      owner: 'idp:alice',
      createdAt: new Date().toISOString(),
      details: {},
    });
    await expect(openTestState(dir)).rejects.toMatchObject({ code: 'SLUICE_ERR_START_STATE_LOCKED' });
    await first.close();
    const second = await openTestState(dir);
    expect((await second.ownership.get('anthropic', 'batch', 'msgbatch_1'))?.owner).toBe('idp:alice');
    await second.close();
    await rm(dir, { recursive: true, force: true });
  });
});
