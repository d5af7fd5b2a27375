/**
 * What happens when the Kafka spool is full (the broker unreachable here): fail closed refuses
 * new calls with 503 and says why; fail open keeps serving and counts the events not sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { freePort } from './kafka-broker.ts';

let h: Harness | undefined;
let spoolDir: string | undefined;
afterEach(async () => {
  await h?.close();
  if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  h = undefined;
});

async function gateway(onSpoolFull: 'fail-closed' | 'fail-open'): Promise<Harness> {
  spoolDir = await mkdtemp(join(tmpdir(), 'sluice-spool-'));
  // A broker address that refuses connections: nothing is ever delivered, so the spool only grows.
  const brokers = [`127.0.0.1:${await freePort()}`];
  h = await startHarness({
    auditKafka: { brokers, spool: { dir: spoolDir, maxBytes: 2000 }, onSpoolFull, closeTimeoutMs: 0 },
  });
  return h;
}

async function call(harness: Harness): Promise<Response> {
  return fetch(`${harness.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await harness.token(['engineering'])}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'spool me' }],
    }),
  });
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('audit spool full', () => {
  it('fail-closed: refuses new calls with 503 SLUICE_ERR_AUDIT_UNAVAILABLE and reports not ready', async () => {
    const g = await gateway('fail-closed');
    expect((await call(g)).status).toBe(200); // one exchange's events (a few KB) fill 2000 bytes
    // Its session record is written just after the response ends.
    await expect.poll(async () => (await g.auditEvents()).filter((e) => e.kind === 'exchange').length).toBe(1);
    const perCall = (await g.auditEvents()).length;
    expect(perCall).toBeGreaterThanOrEqual(2); // a decision event and a session record, at least
    const refused = await call(g);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    const body = (await refused.json()) as { type: string; error: { type: string; message: string } };
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toMatch(/audit spool full: \d+ bytes not yet delivered to Kafka/);
    const ready = await fetch(`${g.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/audit spool full/);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metric(metrics, 'sluice_audit_kafka_spool_full')).toBe(1);
    expect(metric(metrics, 'sluice_audit_kafka_spool_depth_records')).toBe(perCall);
    expect(metric(metrics, 'sluice_audit_sink_accepting\\{sink="kafka"\\}')).toBe(0);
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
  });

  it('fail-open: keeps serving, drops Kafka delivery of new events, and the file sink keeps them all', async () => {
    const g = await gateway('fail-open');
    expect((await call(g)).status).toBe(200);
    await expect.poll(async () => (await g.auditEvents()).filter((e) => e.kind === 'exchange').length).toBe(1);
    const first = (await g.auditEvents()).length;
    expect([(await call(g)).status, (await call(g)).status]).toEqual([200, 200]);
    // A session record is written just after its response ends: wait for all three.
    await expect.poll(async () => (await g.auditEvents()).filter((e) => e.kind === 'exchange').length).toBe(3);
    const all = await g.auditEvents();
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    // The first call's events filled the spool; every later event went to the file only.
    const spooled = metric(metrics, 'sluice_audit_kafka_spool_depth_records');
    const dropped = metric(metrics, 'sluice_audit_kafka_dropped_total');
    expect(spooled).toBeGreaterThanOrEqual(1);
    expect(spooled).toBeLessThanOrEqual(first);
    expect(spooled + dropped).toBe(all.length);
    expect(dropped).toBeGreaterThanOrEqual(all.length - first);
    expect((await fetch(`${g.url}/readyz`)).status).toBe(200);
    expect(all.filter((e) => e.kind === 'decision')).toHaveLength(3);
  });
});
