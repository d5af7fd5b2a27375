/**
 * `node --import tsx scripts/bench/state-bench.ts [--quick]`: what the state database adds to a
 * call, outside HTTP, on the embedded PGlite and on a local PostgreSQL server (scripts/postgres.sh,
 * skipped when it cannot start one). Per call the proxy enters the caller's session (read the
 * session, count the use, read the grants) and, for a resubmission, reads the approval it names;
 * both are timed together, as the proxy runs them. Also the cross-instance release: the time from
 * an approval's verdict on one instance to the wake-up of a call held on another (PostgreSQL
 * only: two pools, LISTEN/NOTIFY), and a budget reservation with its settlement (two budgets).
 * Writes bench-results/state.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../gateway/audit/audit-log.ts';
import type { Approval } from '../../gateway/access/approval-store.ts';
import { GrantService } from '../../gateway/access/grant-service.ts';
import { SessionService } from '../../gateway/access/session-service.ts';
import { resolveConfig } from '../../gateway/config.ts';
import type { Identity } from '../../gateway/identity/identity.ts';
import { openState, type StateStores } from '../../gateway/store/open-state.ts';
import { reserveBudgets, settleBudgets } from '../../gateway/usage/budget-stage.ts';
import { PriceTable } from '../../gateway/usage/prices.ts';

const quick = process.argv.includes('--quick');
const CALLS = quick ? 2_000 : 20_000;
const WARMUP = quick ? 200 : 2_000;
const RELEASES = quick ? 50 : 300;
const quiet = { warn: () => undefined };
const audit = new AuditLog([{ name: 'null', write: () => {}, flush: async () => {}, close: async () => {} }]);

interface Stats {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly count: number;
}

function stats(samplesMs: number[], scale = 1): Stats {
  const s = [...samplesMs].sort((x, y) => x - y);
  const round = (v: number): number => Math.round(v * scale * 1000) / 1000;
  return {
    p50: round(s[Math.floor(s.length / 2)]!),
    p99: round(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!),
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
    count: s.length,
  };
}

function approvalRecord(id: string): Approval {
  const now = new Date();
  return {
    id,
    state: 'pending',
    subject: 'bench:alice',
    requesterGroups: ['engineering'],
    connection: 'anthropic',
    operation: 'messages.create',
    model: 'claude-sonnet-4-6',
    bodySha256: '0'.repeat(64),
    reason: 'bench',
    labels: {},
    findings: {},
    approverGroups: ['admins'],
    decisionId: 'dec_bench',
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
    verdict: null,
    usedAt: null,
    usedByDecisionId: null,
  };
}

/** Session entry + approval lookup per call, as the proxy does them, in milliseconds. */
async function requestPath(state: StateStores, callers: number): Promise<Stats> {
  const config = resolveConfig({}, {});
  const grants = new GrantService(state.grants, audit, {
    ...config.sessions.grants,
    connections: ['anthropic'],
  });
  const sessions = new SessionService(state.sessions, audit, 900, { grants });
  await state.approvals.create(approvalRecord('apr_bench'));
  const identities: Identity[] = Array.from({ length: callers }, (_, i) => ({
    sub: `bench:user${i}`,
    iss: 'bench',
    clientId: undefined,
    groups: ['engineering'],
    scopes: [],
    tokenId: undefined,
    issuedAt: Math.floor(Date.now() / 1000),
    expiresAt: 0,
  }));
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const start = performance.now();
    await sessions.enter(identities[i % callers]!, 'anthropic');
    await state.approvals.get('apr_bench');
    if (i >= WARMUP) samples.push(performance.now() - start);
  }
  return stats(samples);
}

/** Reserve before the call and settle after, against a subject and a team budget, in milliseconds. */
async function budgetPath(state: StateStores): Promise<Stats> {
  const prices = new PriceTable();
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const budgets = [
      {
        key: `subject:bench:user${i % 100}`,
        window: 'day' as const,
        tokens: 1e12,
        requests: undefined,
        costUsd: undefined,
      },
      { key: 'group:engineering', window: 'month' as const, tokens: undefined, requests: undefined, costUsd: 1e9 },
    ];
    const start = performance.now();
    const reservation = await reserveBudgets(state.usage, prices, budgets, {
      model: 'claude-sonnet-4-6',
      estimatedInputTokens: 1200,
      maxTokens: 1024,
    });
    await settleBudgets(state.usage, prices, reservation, { input: 1200, output: 300, cacheWrite: 0, cacheRead: 0 });
    if (i >= WARMUP) samples.push(performance.now() - start);
  }
  return stats(samples);
}

/** Verdict on one instance → wake-up of the watcher on the other, in milliseconds. */
async function release(onA: StateStores, onB: StateStores): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < RELEASES; i++) {
    const id = `apr_release_${i}`;
    await onA.approvals.create(approvalRecord(id));
    let decidedAt = 0;
    const woke = new Promise<number>((resolve) => {
      const stop = onB.approvals.watch((a) => {
        if (a.id !== id || a.state !== 'approved') return;
        stop();
        resolve(performance.now());
      });
    });
    decidedAt = performance.now();
    await onA.approvals.transition(id, 'pending', { state: 'approved' });
    samples.push((await woke) - decidedAt);
  }
  return stats(samples);
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-state-bench-'));
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  settings: { calls: CALLS, warmup: WARMUP, releases: RELEASES, callers: 100 },
};
try {
  process.stderr.write('state-bench: PGlite …\n');
  const embedded = await openState(resolveConfig({ stateDir: join(dir, 'pglite') }, {}), {}, quiet);
  result.pglite = {
    requestPathMs: await requestPath(embedded, 100),
    budgetReserveSettleMs: await budgetPath(embedded),
  };
  await embedded.close();

  let pg: { dir: string; url: string } | undefined;
  try {
    // Its own temp dir: the server runs as another user, who cannot enter this process's 0700 one.
    const pgDir = await mkdtemp(join(tmpdir(), 'sluice-pg-'));
    const out = execFileSync('bash', ['scripts/postgres.sh', 'start', pgDir], { encoding: 'utf8' });
    pg = { dir: pgDir, url: out.trim().split('\n').at(-1)! };
  } catch (err) {
    process.stderr.write(`state-bench: no local PostgreSQL (${(err as Error).message}); PGlite only\n`);
  }
  if (pg) {
    try {
      process.stderr.write('state-bench: PostgreSQL …\n');
      const config = resolveConfig({ stateDir: join(dir, 'pg-a'), state: { postgres: { url: pg.url } } }, {});
      const a = await openState(config, {}, quiet);
      const b = await openState(
        resolveConfig({ stateDir: join(dir, 'pg-b'), state: { postgres: { url: pg.url } } }, {}),
        {},
        quiet,
      );
      result.postgres = {
        requestPathMs: await requestPath(a, 100),
        budgetReserveSettleMs: await budgetPath(a),
        crossInstanceReleaseMs: await release(a, b),
      };
      await Promise.all([a.close(), b.close()]);
    } finally {
      execFileSync('bash', ['scripts/postgres.sh', 'stop', pg.dir]);
    }
  }
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/state.json', `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to bench-results/state.json\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
