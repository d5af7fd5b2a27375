/**
 * The soak (issue 8, "loses nothing"): a whole Sluice with the file and Kafka audit sinks on a
 * real broker, driven by the official SDK at modest concurrency with a mix of allowed, streamed,
 * denied, masked (JSON and stream) and held-then-approved calls, for SLUICE_SOAK_SECONDS
 * (default 45). The broker is stopped a third of the way in and started again two thirds in.
 *
 * It proves: every call got the answer its kind calls for; every call left exactly one decision
 * event and one session record (joined by decision_id, found by a marker in the prompt) and held
 * calls their requested → approved → used approval events; the hash chain verifies; after dedup
 * by event_id the topics hold exactly the file's events; and the heap stays flat.
 *
 * Memory: the gateway runs in this process, so the heap measured is gateway + SDK clients. Both
 * samples are taken quiescent (no call in flight, audit delivered) after a forced GC, so what
 * remains is retained state, not garbage: the baseline after a warm-up under load (JIT, pools,
 * caches and the Kafka producer are warm), the end after the soak. The bound (SLUICE_SOAK_HEAP_MIB,
 * default 16 MiB) leaves room for compiled code, the approvals kept for the console and the
 * producer's reconnect; it catches a leak of ~4 KiB per request (an Exchange, a body, a response
 * kept) in the default run of ~4 000 calls and far smaller ones in a long run. No timing is asserted.
 *
 * Longer run: `SLUICE_SOAK_SECONDS=600 npx vitest run test/soak` (figures are printed at the end).
 */
import Anthropic from '@anthropic-ai/sdk';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ApprovalEventBody,
  AuditEvent,
  DecisionEventBody,
  ExchangeRecordBody,
} from '../../gateway/audit/events.ts';
import { verifyChain } from '../../gateway/cli/audit-verify.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { api, type ApiApproval } from '../helpers/sluice-api.ts';
import { TestBroker } from '../integration/audit/kafka-broker.ts';
import {
  dedupe,
  fileLines,
  kafkaMetrics,
  readAll,
  uniqueTopics,
  waitDelivered,
  type Topics,
} from '../integration/audit/kafka-helpers.ts';

const SECONDS = Number(process.env.SLUICE_SOAK_SECONDS ?? 45);
const WORKERS = Number(process.env.SLUICE_SOAK_WORKERS ?? 6);
const HEAP_BOUND = Number(process.env.SLUICE_SOAK_HEAP_MIB ?? 16) * 1024 * 1024;
/** A directory for heap snapshots after the warm-up and after the soak, to find what grew. */
const SNAPSHOTS = process.env.SLUICE_SOAK_HEAP_SNAPSHOTS;

// A forced GC for this file only, without --expose-gc on the whole pool.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const APPROVER = { sub: 'soak-approver', groups: ['admins'] };
const ANT_KEY = `sk-ant-api03-${'Zx9'.repeat(30)}Q7`; // a look-alike, masked in answers without restore
const RISKY = 'Rotate the production credentials for the billing service.';
const KINDS = ['allow', 'stream', 'deny', 'mask', 'allow', 'mask-stream', 'stream', 'held'] as const;
type Kind = (typeof KINDS)[number];
const OUTCOME: Record<Kind, string> = {
  allow: 'allow',
  stream: 'allow',
  deny: 'deny',
  mask: 'mask',
  'mask-stream': 'mask',
  held: 'allow',
};

interface Call {
  readonly n: number;
  readonly kind: Kind;
  problem?: string;
}

const marker = (n: number) => `soak:${n.toString(36)}:`;
const textOf = (m: Anthropic.Message) => m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

let broker: TestBroker;
let h: Harness;
let spool: string;
const topics: Topics = uniqueTopics();
beforeAll(async () => {
  broker = await TestBroker.start();
  spool = await mkdtemp(join(tmpdir(), 'sluice-soak-spool-'));
  h = await startHarness({
    mock: { chunkChars: 5, maxRecordedRequests: 20 }, // the mock's request log is test state, not the gateway's
    approvals: { holdSeconds: 120, keepAliveSeconds: 1 },
    auditKafka: { brokers: [broker.bootstrap], topics, spool: { dir: spool }, closeTimeoutMs: 10_000 },
    // Hours of load from one address, far past the pre-auth limits (test/e2e/pre-auth-limits.test.ts covers them).
    rateLimits: { enabled: false },
  });
}, 180_000);
afterAll(async () => {
  await h?.close();
  await broker?.close();
  if (spool) await rm(spool, { recursive: true, force: true });
}, 60_000);

/**
 * One SDK client per worker and group, with a fresh token each minute as a real caller would
 * (tokens live 5 minutes): a new token per call would fill the verifier's bounded cache of
 * verified tokens (10 000 entries) and show as heap growth that is not a leak.
 */
const clients = new Map<string, { client: Anthropic; until: number }>();
async function clientFor(sub: string, group: string): Promise<Anthropic> {
  const key = `${sub}/${group}`;
  const cached = clients.get(key);
  if (cached && cached.until > Date.now()) return cached.client;
  const client = await h.client([group], sub);
  clients.set(key, { client, until: Date.now() + 60_000 });
  return client;
}

/** One call of `kind` through the SDK; returns a problem description, or undefined if the answer was right. */
async function callOnce(n: number, kind: Kind, worker: number): Promise<string | undefined> {
  const sub = `soak-w${worker}`;
  const client = await clientFor(sub, kind === 'deny' ? 'ci' : 'engineering');
  const tag = marker(n);
  switch (kind) {
    case 'allow': {
      const m = await client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 32,
        messages: [{ role: 'user', content: `${tag} hello` }],
      });
      return textOf(m).includes(`${tag} hello`) ? undefined : `unexpected text ${textOf(m)}`;
    }
    case 'stream': {
      const m = await client.messages
        .stream({
          model: 'claude-haiku-4-5',
          max_tokens: 32,
          messages: [{ role: 'user', content: `${tag} stream me` }],
        })
        .finalMessage();
      return textOf(m).includes(`${tag} stream me`) && m.stop_reason === 'end_turn'
        ? undefined
        : `unexpected stream ${textOf(m)}`;
    }
    case 'deny': {
      const err = await client.messages
        .create({
          model: 'claude-opus-4-7',
          max_tokens: 32,
          messages: [{ role: 'user', content: `${tag} opus please` }],
        })
        .catch((e: unknown) => e);
      return err instanceof Anthropic.PermissionDeniedError ? undefined : `expected 403, got ${String(err)}`;
    }
    case 'mask':
    case 'mask-stream': {
      const params = {
        model: 'claude-sonnet-4-6',
        max_tokens: 64,
        messages: [{ role: 'user' as const, content: `${tag} key ${ANT_KEY} end` }],
      };
      const m =
        kind === 'mask' ? await client.messages.create(params) : await client.messages.stream(params).finalMessage();
      const text = textOf(m);
      return text.includes(`${tag} key [ANTHROPIC_API_KEY_1] end`) && !text.includes('Zx9Zx9')
        ? undefined
        : `unmasked answer ${text}`;
    }
    case 'held': {
      const m = await client.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 32,
        messages: [{ role: 'user', content: `${tag} ${RISKY}` }],
      });
      return textOf(m).includes(RISKY) ? undefined : `unexpected held answer ${textOf(m)}`;
    }
  }
}

/** Approves every pending approval until stopped, as a human on the approvals API would. */
async function approver(stop: () => boolean, approved: Set<string>): Promise<void> {
  while (!stop()) {
    const { body } = await api<{ data: ApiApproval[] }>(h, APPROVER, 'GET', '/approvals?state=pending');
    for (const a of body.data ?? []) {
      const r = await api(h, APPROVER, 'POST', `/approvals/${a.id}/approve`, { comment: 'soak' });
      if (r.status === 200) approved.add(a.id);
    }
    // Not a wait for an event: a human approver polls the list now and then; the pause is part of the load.
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs WORKERS loops of calls until `until`, numbering calls from `calls.length`. */
async function load(calls: Call[], until: number): Promise<void> {
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let i = 0; Date.now() < until; i++) {
        const call: Call = { n: calls.length, kind: KINDS[(i + w) % KINDS.length]! };
        calls.push(call);
        call.problem = await callOnce(call.n, call.kind, w).catch((err: unknown) => `threw ${String(err)}`);
      }
    }),
  );
}

function heap(): { heapMiB: number; rssMiB: number; heap: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, heapMiB: Math.round(m.heapUsed / 1048576), rssMiB: Math.round(m.rss / 1048576) };
}

/** The soak's phases run for wall-clock time: the duration is what the soak tests. */
const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

describe(`soak: ${SECONDS} s of mixed calls with the Kafka sink and a broker restart`, () => {
  it(
    'answers every call right, audits each exactly once, delivers every event, keeps the heap flat',
    async () => {
      const calls: Call[] = [];
      const approved = new Set<string>();
      let stopApprover = false;
      const approving = approver(() => stopApprover, approved);

      // Warm-up under the same load (the JIT's compiled code is most of early heap growth), then a quiescent baseline.
      await load(calls, Date.now() + Math.max(5, SECONDS * 0.15) * 1000);
      await waitDelivered(h);
      const base = heap();
      if (SNAPSHOTS) writeHeapSnapshot(join(SNAPSHOTS, 'soak-base.heapsnapshot'));

      const t0 = Date.now();
      const end = t0 + SECONDS * 1000;
      const samples: Array<{ at_s: number; calls: number; heapMiB: number; rssMiB: number }> = [];
      const sampling = (async () => {
        for (let k = 1; k < 10; k++) {
          await sleepUntil(t0 + (SECONDS * 1000 * k) / 10);
          const s = heap();
          samples.push({
            at_s: Math.round((Date.now() - t0) / 1000),
            calls: calls.length,
            heapMiB: s.heapMiB,
            rssMiB: s.rssMiB,
          });
        }
      })();
      const outage = { from: 0, to: 0, failing: false, spooled: 0 };
      const conductor = (async () => {
        await sleepUntil(t0 + (SECONDS * 1000) / 3);
        await broker.stop();
        outage.from = calls.length;
        // The sink notices the broker is gone and spools (calls keep succeeding meanwhile).
        await expect.poll(() => kafkaMetrics(h).delivery_failing, { timeout: 30_000, interval: 100 }).toBe(1);
        outage.failing = true;
        await sleepUntil(t0 + (SECONDS * 2000) / 3);
        outage.spooled = kafkaMetrics(h).spool_depth_records ?? 0;
        await broker.start();
        outage.to = calls.length;
      })();
      await load(calls, end);
      await conductor;
      await sampling;
      stopApprover = true;
      await approving;
      const duration = (Date.now() - t0) / 1000;

      // Every call got the answer its kind calls for.
      expect(calls.filter((c) => c.problem !== undefined).slice(0, 5)).toEqual([]);
      expect(outage.failing).toBe(true);
      expect(outage.spooled).toBeGreaterThan(0);
      expect(outage.to).toBeGreaterThan(outage.from); // calls were made while the broker was down

      // Everything audited: one session record per call, then everything delivered to Kafka.
      await expect
        .poll(async () => (await fileLines(h)).filter((l) => l.includes('"kind":"exchange"')).length, {
          timeout: 30_000,
        })
        .toBe(calls.length);
      await waitDelivered(h, 120_000);
      const end_ = heap();
      if (SNAPSHOTS) writeHeapSnapshot(join(SNAPSHOTS, 'soak-end.heapsnapshot'));
      const lines = await fileLines(h);
      const events = lines.map((l) => JSON.parse(l) as AuditEvent);

      // Exactly one decision event and one session record per call, joined by decision_id.
      const decisions = events.filter((e): e is DecisionEventBody & AuditEvent => e.kind === 'decision');
      const sessions = events.filter((e): e is ExchangeRecordBody & AuditEvent => e.kind === 'exchange');
      const approvals = events.filter((e): e is ApprovalEventBody & AuditEvent => e.kind === 'approval');
      expect(decisions).toHaveLength(calls.length);
      expect(sessions).toHaveLength(calls.length);
      const decisionById = new Map(decisions.map((d) => [d.decision_id, d]));
      expect(decisionById.size).toBe(calls.length);
      const sessionByCall = new Map<number, ExchangeRecordBody>();
      for (const s of sessions) {
        const found = /soak:([0-9a-z]+):/.exec(JSON.stringify(s.request));
        expect(found, `session record ${s.decision_id} carries its call's marker`).not.toBeNull();
        const n = parseInt(found![1]!, 36);
        expect(sessionByCall.has(n), `call ${n} has one session record`).toBe(false);
        sessionByCall.set(n, s);
      }
      const problems: string[] = [];
      for (const c of calls) {
        const s = sessionByCall.get(c.n);
        const d = s && decisionById.get(s.decision_id);
        if (!s || !d) {
          problems.push(`call ${c.n} (${c.kind}): no session record or decision`);
          continue;
        }
        // The call's final outcome is its exchange record's: an answer masked after the decision makes it `mask`.
        if (s.outcome !== OUTCOME[c.kind]) problems.push(`call ${c.n} (${c.kind}): outcome ${s.outcome}`);
        if (c.kind.startsWith('mask') && JSON.stringify([s, d]).includes('Zx9Zx9'))
          problems.push(`call ${c.n}: raw key in the audit`);
        if (c.kind === 'held') {
          const id = (d.approval as { id?: string } | null)?.id;
          const states = approvals.filter((a) => a.approval_id === id).map((a) => a.state);
          if (!id || !approved.has(id) || states.join() !== 'requested,approved,used')
            problems.push(`call ${c.n}: approval ${id} went ${states.join()}`);
        }
      }
      expect(problems.slice(0, 5)).toEqual([]);
      expect(approvals.filter((a) => a.state === 'requested')).toHaveLength(
        calls.filter((c) => c.kind === 'held').length,
      );

      // The file's chain verifies; after dedup by event_id the topics hold exactly the file's events, and their chain
      // verifies too.
      expect(
        verifyChain(lines.map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` }))).problems,
      ).toEqual([]);
      const got = await readAll(broker.bootstrap, topics);
      const { values, duplicates } = dedupe(got);
      expect(values.sort()).toEqual([...lines].sort());
      expect(
        verifyChain(got.map((m) => ({ line: m.line, stream: `${m.topic}/${m.partition}`, at: m.offset }))).problems,
      ).toEqual([]);

      // Flat memory: quiescent heap after the soak vs after the warm-up.
      const growth = end_.heap - base.heap;
      const kinds = Object.fromEntries(KINDS.map((k) => [k, calls.filter((c) => c.kind === k).length]));
      console.log(
        `[soak] ${calls.length} calls in ${duration.toFixed(1)} s ` +
          `(${(calls.length / duration).toFixed(1)}/s, ${WORKERS} workers) ${JSON.stringify(kinds)}\n` +
          `[soak] audit: ${lines.length} events (${decisions.length} decisions, ${sessions.length} sessions, ` +
          `${approvals.length} approval events); kafka: ${got.length} messages, ` +
          `${duplicates} duplicates after the broker restart; ` +
          `${outage.spooled} spooled during the outage (calls ${outage.from}..${outage.to})\n` +
          `[soak] heap after warm-up ${base.heapMiB} MiB (rss ${base.rssMiB}), ` +
          `after soak ${end_.heapMiB} MiB (rss ${end_.rssMiB}), ` +
          `growth ${(growth / 1048576).toFixed(1)} MiB; samples ${JSON.stringify(samples)}`,
      );
      expect(growth).toBeLessThan(HEAP_BOUND);
    },
    (SECONDS + 300) * 1000,
  );
});
