/**
 * OpenTelemetry export end to end: a gateway with `telemetry.otlp` sends to a real OpenTelemetry
 * Collector (OTLP receiver, file exporter), over http/protobuf and over grpc; what the collector
 * wrote is checked: audit events as log records (body = the event, gen_ai.* attributes), a span
 * per call with its stages as children, and the request counter as an OTLP metric.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/events.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { anyValue, attributes, ensureCollector, OtelCollector } from '../helpers/otel-collector.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- OTLP JSON as read

const MODEL = 'claude-haiku-4-5';

/** Every item at `path` (e.g. resourceLogs → scopeLogs → logRecords) with its resource's attributes. */
function flatten(requests: Json[], top: string, scope: string, leaf: string): { item: Json; resource: Json }[] {
  return requests.flatMap((r) =>
    (r[top] as Json[]).flatMap((rl) =>
      (rl[scope] as Json[]).flatMap((s) =>
        ((s[leaf] as Json[] | undefined) ?? []).map((item) => ({
          item,
          resource: attributes(rl.resource?.attributes ?? []),
        })),
      ),
    ),
  );
}

beforeAll(async () => {
  await ensureCollector();
}, 600_000);

describe.each(['http/protobuf', 'grpc'] as const)('OTLP export over %s', (protocol) => {
  let dir: string;
  let collector: OtelCollector;
  let h: Harness;
  let events: AuditEvent[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-otelcol-'));
    collector = await OtelCollector.start(dir);
    h = await startHarness({
      telemetry: {
        otlp: {
          endpoint: protocol === 'grpc' ? collector.grpcEndpoint : collector.httpEndpoint,
          protocol,
          headers: [{ name: 'x-sluice-test', value: 'yes' }],
          metrics: { intervalMs: 300 },
        },
      },
    });
    const token = await h.token(['engineering'], 'alice');
    for (const stream of [false, true]) {
      const res = await fetch(`${h.url}/v1/messages`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model: MODEL, max_tokens: 64, stream, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    events = await h.auditEvents();
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await collector?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('exports every audit event as a log record: body = the event, GenAI attributes', async () => {
    const records = await collector.until('logs', (reqs) => {
      const all = flatten(reqs, 'resourceLogs', 'scopeLogs', 'logRecords');
      return all.length >= events.length ? all : undefined;
    });
    const byId = new Map(records.map((r) => [attributes(r.item.attributes)['sluice.event_id'], r]));
    for (const e of events) {
      const r = byId.get(e.event_id);
      expect(r, `log record of ${e.kind} ${e.event_id}`).toBeDefined();
      const body = anyValue(r!.item.body) as Json;
      expect(body).toMatchObject({ event_id: e.event_id, seq: e.seq, kind: e.kind, prev_hash: e.prev_hash });
      expect(r!.resource).toMatchObject({ 'service.name': 'sluice', 'service.instance.id': e.instance_id });
      expect(r!.item.timeUnixNano).toBe(String(BigInt(Date.parse(e.timestamp)) * 1_000_000n));
    }
    const exchange = events.find((e) => e.kind !== 'decision' && 'response' in e)!;
    const attrs = attributes(byId.get(exchange.event_id)!.item.attributes);
    const usage = (exchange as { response: { usage: { input_tokens: number; output_tokens: number } } }).response.usage;
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(attrs).toMatchObject({
      'gen_ai.system': 'anthropic',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': MODEL,
      'gen_ai.usage.input_tokens': usage.input_tokens,
      'gen_ai.usage.output_tokens': usage.output_tokens,
      'user.id': 'alice',
      'sluice.audit.kind': exchange.kind,
      'sluice.seq': exchange.seq,
    });
    const decision = events.find((e) => e.kind === 'decision')!;
    expect(attributes(byId.get(decision.event_id)!.item.attributes)).toMatchObject({
      'gen_ai.request.model': MODEL,
      'sluice.audit.kind': 'decision',
      'sluice.outcome': 'allow',
    });
  });

  it('exports a span per call with a child span per stage, inside it', async () => {
    const decisionIds = events.filter((e) => e.kind === 'decision').map((e) => e.decision_id);
    const spans = await collector.until('traces', (reqs) => {
      const all = flatten(reqs, 'resourceSpans', 'scopeSpans', 'spans').map((s) => s.item);
      const roots = all.filter((s) => decisionIds.includes(attributes(s.attributes)['sluice.decision_id'] as string));
      return roots.length === decisionIds.length && all.some((s) => s.name === 'relay') ? all : undefined;
    });
    for (const id of decisionIds) {
      const root = spans.find((s) => attributes(s.attributes)['sluice.decision_id'] === id)!;
      expect(root.name).toBe(`chat ${MODEL}`);
      expect(root.kind).toBe(2); // SPAN_KIND_SERVER
      expect(root.parentSpanId ?? '').toBe('');
      expect(attributes(root.attributes)).toMatchObject({ 'gen_ai.request.model': MODEL, 'user.id': 'alice' });
      const children = spans.filter((s) => s.parentSpanId === root.spanId && s.traceId === root.traceId);
      const names = children.map((c) => c.name);
      for (const stage of ['auth', 'inspect', 'policy', 'upstream', 'relay']) expect(names).toContain(stage);
      for (const c of children) {
        expect(BigInt(c.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(root.startTimeUnixNano));
        expect(BigInt(c.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(root.endTimeUnixNano));
        expect(BigInt(c.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(c.startTimeUnixNano));
      }
    }
  });

  it('exports the request counter as an OTLP metric', async () => {
    const total = await collector.until('metrics', (reqs) => {
      const metrics = flatten(reqs, 'resourceMetrics', 'scopeMetrics', 'metrics').map((m) => m.item);
      // Cumulative sums: the latest export holds the total so far.
      const points = metrics
        .filter((m) => m.name === 'sluice.requests')
        .flatMap((m) => m.sum.dataPoints as Json[])
        .filter((p) => attributes(p.attributes).operation === 'messages.create');
      const latest = points.map((p) => Number(p.asInt ?? p.asDouble)).at(-1);
      return latest === 2 ? latest : undefined;
    });
    expect(total).toBe(2);
  });
});
