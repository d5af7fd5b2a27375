/**
 * The Kafka audit sink against a real Apache Kafka broker (scripts/kafka.sh, KRaft, 127.0.0.1):
 * every event arrives byte for byte; a broker outage under load loses and duplicates nothing
 * after dedup by event_id; events left in the spool by a closed or killed Sluice are delivered
 * by the next start, also after a SIGKILL. One broker serves the whole file; tests run in order.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { verifyChain } from '../../../gateway/cli/audit-verify.ts';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { TestIdp } from '../../helpers/test-idp.ts';
import {
  createTopic,
  dedupe,
  fileLines,
  kafkaMetrics,
  readAll,
  spooledLines,
  uniqueTopics,
  waitDelivered,
  waitRecorded,
  type Topics,
} from './kafka-helpers.ts';
import { TestBroker, freePort } from './kafka-broker.ts';

const run = promisify(execFile);
const BIN = new URL('../../../gateway/bin/sluice.mjs', import.meta.url).pathname;

let broker: TestBroker;
const cleanup: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  broker = await TestBroker.start();
}, 180_000);
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
afterAll(async () => broker?.close(), 60_000);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kspool-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function gateway(
  topics: Topics,
  spoolDir: string,
  brokers = [broker.bootstrap],
  closeTimeoutMs = 10_000,
): Promise<Harness> {
  const h = await startHarness({ auditKafka: { brokers, topics, spool: { dir: spoolDir }, closeTimeoutMs } });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= h.close()); // a test may close first (to restart); close once
  cleanup.push(close);
  return Object.create(h, { close: { value: close } }) as Harness;
}

const body = (stream: boolean, model: string) =>
  JSON.stringify({ model, max_tokens: 16, stream, messages: [{ role: 'user', content: 'audit to kafka' }] });

async function call(
  h: Harness,
  sub: string,
  groups = ['engineering'],
  stream = false,
  model = 'claude-haiku-4-5',
): Promise<number> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token(groups, sub)}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: body(stream, model),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('Kafka audit sink (real broker)', () => {
  it('delivers every event of every request, byte for byte, keyed by subject, verifiable', async () => {
    const topics = uniqueTopics();
    const h = await gateway(topics, await tempDir());
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) {
      const sub = ['alice', 'bob', 'carol'][i % 3]!;
      // Every 8th call is denied by policy (the ci group may not use Opus); every 4th streams.
      statuses.push(
        i % 8 === 7
          ? await call(h, sub, ['ci'], false, 'claude-opus-4-7')
          : await call(h, sub, ['engineering'], i % 4 === 1),
      );
    }
    expect(statuses.filter((s) => s === 403)).toHaveLength(3);
    expect(statuses.filter((s) => s === 200)).toHaveLength(21);
    await waitRecorded(h, 24);
    await waitDelivered(h);
    const expected = await fileLines(h);
    const got = await readAll(broker.bootstrap, topics);
    expect(got.map((l) => l.line).sort()).toEqual([...expected].sort()); // all, once, unaltered
    for (const m of got) {
      const e = JSON.parse(m.line) as { kind: string; subject: string | null; schema_version: number };
      expect(m.key).toBe(e.subject ?? 'anonymous');
      expect(m.topic).toBe(e.kind === 'exchange' ? topics.sessions : topics.decisions);
      expect(e.schema_version).toBe(2);
    }
    expect(
      verifyChain(got.map((m) => ({ line: m.line, stream: `${m.topic}/${m.partition}`, at: m.offset }))).problems,
    ).toEqual([]);

    const args = ['--kafka', '--brokers', broker.bootstrap, '--topics', `${topics.decisions},${topics.sessions}`];
    const verified = await run('node', [BIN, 'audit', 'verify', ...args]);
    expect(verified.stdout).toMatch(new RegExp(`^OK: ${expected.length} events from 1 instance`));
    const tailed = await run('node', [BIN, 'audit', 'tail', ...args, '--subject', 'bob', '--outcome', 'deny']);
    const lines = tailed.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => / bob /.test(l))).toBe(true);
    expect(lines.some((l) => /DECISION +deny/.test(l))).toBe(true);
  });

  it('loses nothing and duplicates nothing (after dedup) when the broker stops mid-load and comes back', async () => {
    const topics = uniqueTopics();
    const h = await gateway(topics, await tempDir());
    const statuses: number[] = [];
    let stop = false;
    const worker = async (sub: string) => {
      while (!stop) statuses.push(await call(h, sub));
    };
    const load = Promise.all(['alice', 'bob', 'carol', 'dave'].map(worker));
    const until = (n: number) =>
      expect.poll(() => statuses.length, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(n);
    await until(40);
    await broker.stop();
    const atStop = statuses.length;
    await until(atStop + 40);
    // Audit is off the request path: calls keep succeeding while events pile up in the spool.
    expect(kafkaMetrics(h).spool_depth_records).toBeGreaterThan(0);
    await expect.poll(() => kafkaMetrics(h).delivery_failing, { timeout: 30_000 }).toBe(1);
    await broker.start();
    await until(statuses.length + 40);
    stop = true;
    await load;
    expect(statuses.every((s) => s === 200)).toBe(true);
    await waitRecorded(h, statuses.length);
    await waitDelivered(h, 90_000);

    const expected = await fileLines(h);
    const got = await readAll(broker.bootstrap, topics);
    // After dedup by event_id: every event exactly once, unaltered (re-sends after the outage are exact copies).
    expect(dedupe(got).values.sort()).toEqual([...expected].sort());
    // Per partition (so per key) the chain's order holds, and the whole chain verifies.
    expect(
      verifyChain(got.map((m) => ({ line: m.line, stream: `${m.topic}/${m.partition}`, at: m.offset }))).problems,
    ).toEqual([]);
  }, 240_000);

  it('delivers on the next start what a closed Sluice left in its spool', async () => {
    const topics = uniqueTopics();
    const spool = await tempDir();
    const deadBroker = [`127.0.0.1:${await freePort()}`];
    const first = await gateway(topics, spool, deadBroker, 200);
    for (const sub of ['alice', 'bob', 'alice', 'carol']) expect(await call(first, sub)).toBe(200);
    await waitRecorded(first, 4);
    await first.gateway.audit.flush();
    const expected = await fileLines(first);
    expect(kafkaMetrics(first).spool_depth_records).toBe(expected.length);
    await first.close();

    const second = await gateway(topics, spool);
    await waitDelivered(second);
    const got = await readAll(broker.bootstrap, topics);
    expect(got.map((l) => l.line).sort()).toEqual([...expected].sort());
  });

  it('delivers on restart what a SIGKILLed Sluice had spooled', async () => {
    const dir = await tempDir();
    const idp = await TestIdp.start();
    const upstream = await MockClaude.start({ apiKey: 'sk-crash-test' });
    const port = await freePort();
    const spool = join(dir, 'spool');
    const topics = uniqueTopics();
    const config = {
      listen: { host: '127.0.0.1', port },
      stateDir: dir,
      identity: { issuer: idp.issuer, audience: idp.audience, algorithms: ['RS256'] },
      connections: [{ name: 'anthropic', baseUrl: upstream.url, apiKeyEnv: 'CRASH_UPSTREAM_KEY' }],
      policy: { bundle: inject('policyBundle'), buildIfMissing: false },
      audit: {
        file: { path: join(dir, 'audit.jsonl') },
        kafka: { brokers: [`127.0.0.1:${await freePort()}`], topics, spool: { dir: spool } },
      },
      log: { level: 'silent' },
    };
    await writeFile(join(dir, 'sluice.json'), JSON.stringify(config));
    const child = spawn('node', [BIN, 'serve', '--config', join(dir, 'sluice.json')], {
      env: { ...process.env, CRASH_UPSTREAM_KEY: 'sk-crash-test' },
      stdio: 'ignore',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await expect
        .poll(
          () =>
            fetch(`${url}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          { timeout: 30_000, interval: 100 },
        )
        .toBe(200);
      for (const sub of ['alice', 'bob', 'alice']) {
        const res = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${await idp.mint({ sub, groups: ['engineering'] })}`,
            'anthropic-version': '2023-06-01',
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            model: 'claude-haiku-4-5',
            max_tokens: 16,
            messages: [{ role: 'user', content: 'crash me' }],
          }),
        });
        expect(res.status).toBe(200);
      }
      // Every event of the three calls is on the spool's disk (three decisions among them) before the kill.
      await expect
        .poll(
          async () => (await spooledLines(spool).catch(() => [])).filter((l) => l.includes('"kind":"decision"')).length,
          { timeout: 10_000 },
        )
        .toBe(3);
    } finally {
      const exited = child.exitCode === null ? once(child, 'exit') : Promise.resolve();
      child.kill('SIGKILL');
      await exited;
      await Promise.all([idp.close(), upstream.close()]);
    }
    const spooled = await spooledLines(spool);

    const h = await gateway(topics, spool);
    await waitDelivered(h);
    const got = await readAll(broker.bootstrap, topics);
    expect(got.map((l) => l.line).sort()).toEqual([...spooled].sort());
  });

  it('sets aside an event the topic refuses as too large instead of wedging delivery', async () => {
    const topics = uniqueTopics();
    // a topic Sluice did not create
    await createTopic(broker.bootstrap, topics.sessions, { 'max.message.bytes': '512' });
    const spool = await tempDir();
    const h = await startHarness({
      auditKafka: { brokers: [broker.bootstrap], topics, createTopics: false, spool: { dir: spool } },
    });
    cleanup.push(() => h.close());
    for (const sub of ['alice', 'bob']) expect(await call(h, sub)).toBe(200);
    await waitRecorded(h, 2);
    await waitDelivered(h);
    const expected = await fileLines(h);
    const sessions = expected.filter((l) => l.includes('"kind":"exchange"'));
    expect(kafkaMetrics(h).rejected_total).toBe(sessions.length);
    // The refused batch's other records were written once already and are re-sent one by one: dedupe.
    expect(dedupe(await readAll(broker.bootstrap, topics)).values.sort()).toEqual(
      expected.filter((l) => !sessions.includes(l)).sort(),
    );
    expect((await readFile(join(spool, 'rejected.jsonl'), 'utf8')).split('\n').filter(Boolean).sort()).toEqual(
      [...sessions].sort(),
    );
  });
});
