/**
 * Every request leaves exactly one decision event and one session record, however it ends, and
 * the log is a verifiable hash chain that never holds a token or the upstream key.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN_GENESIS } from '../../gateway/audit/audit-log.ts';
import type { AuditEvent } from '../../gateway/audit/events.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
let events: AuditEvent[];
const tokens: string[] = [];

async function call(groups: string[], payload: unknown, authorization?: string): Promise<number> {
  const token = await h.token(groups, 'auditee');
  tokens.push(token);
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: authorization ?? `Bearer ${token}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  await res.arrayBuffer();
  return res.status;
}

const ok = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'audit me' }] };

beforeAll(async () => {
  h = await startHarness();
  const statuses = [
    await call(['engineering'], ok),
    await call(['engineering'], { ...ok, stream: true }),
    await call(['ci'], { ...ok, model: 'claude-opus-4-7' }),
    await call(['engineering'], ok, 'Bearer not-a-jwt'),
    await call(['engineering'], '{"broken'),
  ];
  expect(statuses).toEqual([200, 200, 403, 401, 400]);
  events = await h.auditEvents();
});
afterAll(async () => h?.close());

describe('audit trail', () => {
  it('holds one decision event and one session record per request, paired by decision_id', () => {
    const decisions = events.filter((e) => e.kind === 'decision');
    const sessions = events.filter((e) => e.kind === 'exchange');
    expect(decisions).toHaveLength(5);
    expect(sessions).toHaveLength(5);
    expect(new Set(decisions.map((d) => d.decision_id)).size).toBe(5);
    expect(sessions.map((s) => s.decision_id).sort()).toEqual(decisions.map((d) => d.decision_id).sort());
    expect(decisions.map((d) => d.outcome)).toEqual(['allow', 'allow', 'deny', 'error', 'error']);
  });

  it('decision events carry OPA decision-log fields and the bundle revision', () => {
    const allowed = events.find((e) => e.kind === 'decision' && e.outcome === 'allow')!;
    expect(allowed).toMatchObject({
      path: 'sluice/decision',
      bundles: { sluice: { revision: 'test' } },
      subject: 'auditee',
      input: {
        identity: { sub: 'auditee', groups: ['engineering'], client_id: 'e2e-client' },
        request: { model: 'claude-haiku-4-5', operation: 'messages.create' },
      },
      result: { allow: true },
    });
    expect(allowed.kind === 'decision' && allowed.metrics.timer_rego_query_eval_ns).toBeGreaterThan(0);
    const denied = events.find((e) => e.kind === 'decision' && e.outcome === 'deny')!;
    expect(denied.kind === 'decision' && denied.reasons.join(' ')).toMatch(/claude-opus-4-7/);
  });

  it('the streamed session record holds the reconstructed message and per-event timing', () => {
    const streamed = events.find((e) => e.kind === 'exchange' && e.response?.stream === true);
    expect(streamed).toBeDefined();
    const response = streamed!.kind === 'exchange' ? streamed!.response! : undefined;
    expect(response!.status).toBe(200);
    expect(response!.body).toMatchObject({
      role: 'assistant',
      content: [{ type: 'text', text: expect.stringContaining('audit me') }],
    });
    const timed = response!.events!;
    expect(timed[0]!.event).toBe('message_start');
    expect(timed.at(-1)!.event).toBe('message_stop');
    for (let i = 1; i < timed.length; i++) expect(timed[i]!.at_ms).toBeGreaterThanOrEqual(timed[i - 1]!.at_ms);
    expect(response!.usage).toMatchObject({ output_tokens: expect.any(Number) });
  });

  it('is a hash chain with consecutive sequence numbers', () => {
    let prev = CHAIN_GENESIS;
    events.forEach((event, i) => {
      expect(event.seq).toBe(i + 1);
      expect(event.prev_hash).toBe(prev);
      prev = createHash('sha256').update(JSON.stringify(event)).digest('hex');
    });
  });

  it('never contains a caller token or the upstream credential', async () => {
    const raw = await readFile(h.auditFile, 'utf8');
    expect(raw.length).toBeGreaterThan(0);
    for (const token of tokens) expect(raw).not.toContain(token.split('.')[2]);
    expect(raw).not.toContain(h.upstreamKey);
  });
});
