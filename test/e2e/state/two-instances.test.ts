/**
 * Two Sluice processes on one real PostgreSQL server (scripts/postgres.sh), sharing the test
 * IdP and the echo upstream: the races the state database must decide, a revocation seen
 * everywhere, an instance killed mid-hold, and the database restarted under load.
 */
import Anthropic from '@anthropic-ai/sdk';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify as toYaml } from 'yaml';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import { MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { freePort } from '../../helpers/free-port.ts';
import { bundleWithData } from '../../helpers/policy-variant.ts';
import { startPostgres, type PostgresServer } from '../../helpers/postgres-server.ts';
import { TestIdp } from '../../helpers/test-idp.ts';

const SLUICE = 'gateway/bin/sluice.mjs';
const ALICE = { sub: 'alice', groups: ['engineering'] };
const BOB = { sub: 'bob', groups: ['admins'] };
const CAROL = { sub: 'carol', groups: ['admins'] };
const RISKY = 'Rotate the production credentials for the billing service.';
const UPSTREAM_KEY_ENV = 'SLUICE_TEST_UPSTREAM_KEY';
/** The token budget of the `racers` group (the shipped policy's data plus this group): one hour, few tokens. */
const RACE_BUDGET = 1500;

/** One `sluice serve` process. */
interface Instance {
  readonly url: string;
  readonly auditFile: string;
  readonly process: ChildProcess;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
}

let pg: PostgresServer;
let idp: TestIdp;
let upstream: MockClaude;
let dir: string;
let upstreamKey: string;
let policyBundle: string;
let a: Instance;
let b: Instance;
const instances: Instance[] = [];

async function startInstance(name: string, extraState: Record<string, unknown> = {}): Promise<Instance> {
  const port = await freePort();
  const stateDir = join(dir, name);
  const auditFile = join(stateDir, 'audit.jsonl');
  const config = {
    listen: { host: '127.0.0.1', port },
    stateDir,
    identity: { issuer: idp.issuer, audience: idp.audience, algorithms: ['RS256'], jwksCooldownSeconds: 0 },
    connections: [{ name: 'anthropic', baseUrl: upstream.url, apiKeyEnv: UPSTREAM_KEY_ENV }],
    policy: { bundle: policyBundle, buildIfMissing: false },
    audit: { file: { path: auditFile }, anchorIntervalSeconds: 0 },
    approvals: { holdSeconds: 30, keepAliveSeconds: 1 },
    // Polling far slower than the release bound below: a release within it came from NOTIFY.
    state: { postgres: { url: pg.url }, pollIntervalMs: 10_000, ...extraState },
    log: { level: 'warn' },
  };
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, toYaml(config));
  const child = spawn(process.execPath, [SLUICE, 'serve', '--config', file], {
    env: { ...process.env, [UPSTREAM_KEY_ENV]: upstreamKey },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  await vi.waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`instance ${name} exited: ${stderr}`);
      expect(stderr).toContain('Sluice is listening');
    },
    { timeout: 30_000, interval: 100 },
  );
  const instance = {
    url: `http://127.0.0.1:${port}`,
    auditFile,
    process: child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
  instances.push(instance);
  return instance;
}

/** The fields these tests read of /sluice/api answers: a record, a listing or an Anthropic-shaped error. */
interface ApiBody {
  readonly data?: Array<{ id: string; subject: string; state: string }>;
  readonly error?: { message: string };
  readonly state?: string;
  readonly verdict?: { approver: string };
  readonly usedAt?: string | null;
}

const token = (who: { sub: string; groups: string[] }) => idp.mint({ sub: who.sub, groups: who.groups });

async function client(at: Instance, who: { sub: string; groups: string[] }): Promise<Anthropic> {
  return new Anthropic({ baseURL: at.url, authToken: await token(who), apiKey: null, maxRetries: 0 });
}

async function api(at: Instance, who: { sub: string; groups: string[] }, method: string, path: string, body?: unknown) {
  const res = await fetch(`${at.url}/sluice/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await token(who)}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as ApiBody };
}

async function pendingOf(at: Instance, subject: string): Promise<string> {
  return vi.waitFor(
    async () => {
      const { body } = await api(at, BOB, 'GET', '/approvals?state=pending');
      const found = body.data?.find((x) => x.subject === subject);
      expect(found).toBeDefined();
      return found!.id;
    },
    { timeout: 10_000, interval: 50 },
  );
}

async function auditOf(at: Instance): Promise<AuditEvent[]> {
  const text = await readFile(at.auditFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
}

const params = (text: string) => ({
  model: 'claude-sonnet-4-6',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: text }],
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-two-'));
  upstreamKey = `sk-test-${randomBytes(16).toString('hex')}`;
  [pg, idp, upstream, policyBundle] = await Promise.all([
    startPostgres(),
    TestIdp.start(),
    MockClaude.start({ apiKey: upstreamKey, maxRecordedRequests: 10_000 }),
    // The shipped policy, plus a `racers` group (engineering's rights) with a small budget of its own.
    bundleWithData((data) => {
      data.groups.racers = data.groups.engineering!;
      const budgets = data.budgets as { group: Record<string, unknown> };
      budgets.group.racers = { window: 'hour', tokens: RACE_BUDGET };
    }),
  ]);
  [a, b] = await Promise.all([startInstance('a'), startInstance('b')]);
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((i) => i.kill()));
  await Promise.all([upstream?.close(), idp?.close(), pg?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

describe('two instances on one PostgreSQL', () => {
  it('decides 50 racing verdicts on both instances once; every loser gets 409 naming the winner', async () => {
    const alice = await client(a, ALICE);
    const held = alice.messages.create(params(RISKY)).then(
      (m) => m,
      (err: unknown) => err,
    );
    const id = await pendingOf(b, 'alice');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api(i % 2 ? a : b, i % 4 < 2 ? BOB : CAROL, 'POST', `/approvals/${id}/${i % 3 ? 'approve' : 'deny'}`, {
          comment: `racer ${i}`,
        }),
      ),
    );
    const winners = answers.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    const won = winners[0]!.body as { state: string; verdict: { approver: string } };
    const losers = answers.filter((r) => r.status !== 200);
    expect(losers).toHaveLength(49);
    for (const loser of losers) {
      expect(loser.status).toBe(409);
      expect(loser.body.error?.message).toContain(`was already ${won.state} by ${won.verdict.approver}`);
    }
    // The held call on A follows the one verdict.
    const outcome = await held;
    if (won.state === 'approved') expect(outcome).toMatchObject({ type: 'message' });
    else expect(outcome).toMatchObject({ status: 403 });
  });

  it('releases a call held on A when B approves it, by notification, not by polling', async () => {
    const alice = await client(a, ALICE);
    let releasedAt = 0;
    const held = alice.messages.create(params(`${RISKY} (release timing)`)).then((m) => {
      releasedAt = Date.now();
      return m;
    });
    const id = await pendingOf(a, 'alice');
    const approved = await api(b, BOB, 'POST', `/approvals/${id}/approve`, { comment: 'ok' });
    const decidedAt = Date.now();
    expect(approved.status).toBe(200);
    expect((await held).type).toBe('message');
    // Polling runs every 10 s here, so a release this soon can only come from LISTEN/NOTIFY.
    // The 100 ms target is measured in the bench; this bound only rules polling out.
    expect(releasedAt - decidedAt).toBeLessThan(5000);
  });

  it('lets an approval release exactly one call when it is presented to both instances at once', async () => {
    const gina = { sub: 'gina', groups: ['engineering'] };
    // The caller gives up waiting: the approval stays pending for a resubmission.
    const gaveUp = new AbortController();
    const held = (await client(a, gina)).messages
      .create(params(`${RISKY} (resubmit)`), { signal: gaveUp.signal })
      .catch((err: unknown) => err);
    const id = await pendingOf(a, 'gina');
    gaveUp.abort();
    await held;
    expect((await api(b, BOB, 'POST', `/approvals/${id}/approve`, { comment: 'once' })).status).toBe(200);
    const before = upstream.requests.length;
    const results = await Promise.all(
      [a, b].map(async (at) =>
        (await client(at, gina)).messages
          .create(params(`${RISKY} (resubmit)`), { headers: { 'x-sluice-approval-id': id } })
          .then(
            () => 'passed',
            (err: { status?: number; error?: { error?: { message?: string } } }) =>
              `${err.status}: ${err.error?.error?.message}`,
          ),
      ),
    );
    expect(results.filter((r) => r === 'passed')).toHaveLength(1);
    expect(results.find((r) => r !== 'passed')).toMatch(/^403: .*(already used|no longer usable)/);
    expect(upstream.requests.length).toBe(before + 1);
  });

  it('refuses the next call on B once the session is revoked on A', async () => {
    const dave = { sub: 'dave', groups: ['engineering'] };
    const daveToken = await token(dave);
    const onA = new Anthropic({ baseURL: a.url, authToken: daveToken, apiKey: null, maxRetries: 0 });
    const onB = new Anthropic({ baseURL: b.url, authToken: daveToken, apiKey: null, maxRetries: 0 });
    await onA.messages.create(params('hello from A'));
    await onB.messages.create(params('hello from B'));
    const { body } = await api(a, BOB, 'GET', '/sessions');
    const sessions = (body.data ?? []).filter((s) => s.subject === 'dave');
    // One session for dave, whichever instance served him.
    expect(sessions).toHaveLength(1);
    expect((await api(a, BOB, 'POST', `/sessions/${sessions[0]!.id}/revoke`)).status).toBe(200);
    await expect(onB.messages.create(params('after the revocation'))).rejects.toMatchObject({
      status: 401,
      error: { error: { message: expect.stringMatching(/revoked by bob/) } },
    });
  });

  it('leaves an approval whole when the instance holding its call is killed; it is used once, elsewhere', async () => {
    const c = await startInstance('c');
    const erin = { sub: 'erin', groups: ['engineering'] };
    const held = (await client(c, erin)).messages.create(params(`${RISKY} (killed)`)).then(
      () => 'answered',
      (err: Error) => err.constructor.name,
    );
    const id = await pendingOf(b, 'erin');
    await c.kill();
    // The caller learns at once that its connection is gone (the SDK's connection error).
    expect(await held).toBe('APIConnectionError');
    const { body: seen } = await api(b, BOB, 'GET', `/approvals/${id}`);
    expect(seen).toMatchObject({ state: 'pending', usedAt: null });
    expect((await api(b, BOB, 'POST', `/approvals/${id}/approve`, { comment: 'after the crash' })).status).toBe(200);
    const resubmit = (await client(b, erin)).messages.create(params(`${RISKY} (killed)`), {
      headers: { 'x-sluice-approval-id': id },
    });
    expect((await resubmit).type).toBe('message');
    expect((await api(b, BOB, 'GET', `/approvals/${id}`)).body).toMatchObject({ state: 'used' });
  });

  it('keeps 200 concurrent calls on both instances within one token budget, losing no update', async () => {
    const ivy = { sub: 'ivy', groups: ['engineering', 'racers'] };
    const onA = await client(a, ivy);
    const onB = await client(b, ivy);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? onA : onB).messages.create(params(`race ${i}`)).then(
          (m) => ({ ok: true as const, tokens: m.usage.input_tokens + m.usage.output_tokens }),
          (err: { status?: number; error?: { error?: { message?: string } } }) => ({
            ok: false as const,
            why: `${err.status} ${err.error?.error?.message ?? String(err)}`,
          }),
        ),
      ),
    );
    const answered = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    // Only budget refusals, and the budget was binding: some calls answered, some refused.
    expect(refused.filter((r) => !/^429 budget "group:racers"/.test(r.why))).toEqual([]);
    expect(answered.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    const { body } = await api(a, BOB, 'GET', '/usage?key=group%3Aracers');
    const rows = (body.data ?? []) as unknown as Array<{ tokens: number; reserved_tokens: number; requests: number }>;
    // One hourly window (two if the hour turned meanwhile).
    expect(rows.length).toBeGreaterThanOrEqual(1);
    const total = (k: 'tokens' | 'requests' | 'reserved_tokens') => rows.reduce((sum, r) => sum + r[k], 0);
    const used = answered.reduce((sum, r) => sum + r.tokens, 0);
    // No lost update: the counters are exactly the sum of what the answers reported, on either instance,
    // one request per call that got through, nothing left reserved.
    expect({ tokens: total('tokens'), requests: total('requests'), reserved: total('reserved_tokens') }).toEqual({
      tokens: used,
      requests: answered.length,
      reserved: 0,
    });
    // Settled use never passes the limit: each call used less than it reserved (the in-flight bound is 0 here).
    for (const row of rows) expect(row.tokens).toBeLessThanOrEqual(RACE_BUDGET);
    console.log(`[budget race] ${answered.length} answered, ${refused.length} refused, ${used} of ${RACE_BUDGET}`);
  });

  it('loses and duplicates no decision when the database restarts under load', async () => {
    const frank = { sub: 'frank', groups: ['engineering'] };
    const clients = [await client(a, frank), await client(b, frank)];
    const outcomes: string[] = [];
    let stop = false;
    const load = Promise.all(
      clients.map(async (c, n) => {
        for (let i = 0; !stop; i++) {
          outcomes.push(
            await c.messages.create(params(`load ${n}-${i}`)).then(
              () => 'ok',
              (err: { status?: number; error?: { error?: { message?: string } } }) =>
                `${err.status} ${err.error?.error?.message?.slice(0, 120)}`,
            ),
          );
        }
      }),
    );
    await vi.waitFor(() => expect(outcomes.length).toBeGreaterThan(20), { timeout: 20_000, interval: 20 });
    await pg.restart();
    const afterRestart = outcomes.length;
    await vi.waitFor(() => expect(outcomes.slice(afterRestart).filter((o) => o === 'ok').length).toBeGreaterThan(20), {
      timeout: 30_000,
      interval: 50,
    });
    stop = true;
    await load;
    const refused = outcomes.filter((o) => o.startsWith('503 ')).length;
    const answered = outcomes.length - refused;
    console.log(`[db restart] ${answered} calls answered, ${refused} refused with 503 while it was down`);
    // Every call either went through or was refused with the coded 503; nothing else.
    const other = outcomes.filter((o) => o !== 'ok' && !/^503 .*state database is unreachable/.test(o));
    expect(other).toEqual([]);
    // Each call that reached the policy has exactly one decision event, on the instance that served it.
    const events = [...(await auditOf(a)), ...(await auditOf(b))].filter(
      (e) => e.kind === 'decision' && (e as { subject?: string }).subject === 'frank',
    );
    const allowed = events.filter((e) => (e as { outcome?: string }).outcome === 'allow');
    // Every answered call was allowed, once; an allowed call may still have been refused with the 503
    // (its budget could not be reserved while the database was down): never more than were refused.
    const answeredCalls = outcomes.filter((o) => o === 'ok').length;
    expect(allowed.length).toBeGreaterThanOrEqual(answeredCalls);
    expect(allowed.length - answeredCalls).toBeLessThanOrEqual(refused);
    const ids = events.map((e) => (e as { decision_id?: string }).decision_id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
