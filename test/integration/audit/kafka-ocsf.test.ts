/**
 * The Kafka sink in `format: ocsf` beside the file in `format: sluice` (the arrangement docs/siem.md recommends),
 * against a real broker: the topics carry one valid OCSF event per call and per refused token, each traceable to
 * its Sluice line by `metadata.uid`, while the file keeps the chained Sluice trail.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { ocsfErrors } from '../../helpers/ocsf-schemas.ts';
import { TestBroker } from './kafka-broker.ts';
import { fileLines, readAll, uniqueTopics, waitDelivered, waitRecorded } from './kafka-helpers.ts';

type Ocsf = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let broker: TestBroker;
let h: Harness;
let spool: string;
const topics = uniqueTopics();

beforeAll(async () => {
  broker = await TestBroker.start();
  spool = await mkdtemp(join(tmpdir(), 'sluice-kspool-'));
  h = await startHarness({
    auditKafka: { brokers: [broker.bootstrap], topics, spool: { dir: spool }, format: 'ocsf' },
  });
}, 180_000);
afterAll(async () => {
  await h?.close();
  await broker?.close();
  await rm(spool, { recursive: true, force: true });
}, 60_000);

async function call(authorization: string, groups: string[], model: string): Promise<number> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'to the SIEM' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('Kafka sink in OCSF format (real broker)', () => {
  it('delivers valid OCSF events, one per call and per refused token, beside the Sluice file', async () => {
    const bearer = async (groups: string[]) => `Bearer ${await h.token(groups, 'alice')}`;
    expect(await call(await bearer(['engineering']), ['engineering'], 'claude-haiku-4-5')).toBe(200);
    expect(await call(await bearer(['ci']), ['ci'], 'claude-opus-4-7')).toBe(403);
    expect(await call('Bearer not-a-jwt', [], 'claude-haiku-4-5')).toBe(401);
    await waitRecorded(h, 3);
    await waitDelivered(h);

    const sluiceLines = (await fileLines(h)).map((l) => JSON.parse(l) as { event_id: string; kind: string });
    const got = await readAll(broker.bootstrap, topics);
    // Order holds per key (partition), not across them: put the events back in chain order.
    const events = got
      .map((m) => ({ ...m, event: JSON.parse(m.line) as Ocsf }))
      .sort((a, b) => a.event.metadata.sequence - b.event.metadata.sequence);
    for (const { event } of events) expect(ocsfErrors(event), JSON.stringify(event)).toEqual([]);

    // Decisions fold into their call: 3 API Activities, 1 Authorize Session (the JIT session the first call opened)
    // and 1 Authentication for 8 Sluice lines.
    const kinds = ['access', 'authentication', 'decision', 'decision', 'decision', 'exchange', 'exchange', 'exchange'];
    expect(sluiceLines.map((e) => e.kind).sort()).toEqual(kinds);
    expect(events.map((e) => e.event.class_uid).sort()).toEqual([3002, 3003, 6003, 6003, 6003]);
    const calls = events.filter((e) => e.event.class_uid === 6003);
    expect(calls.map((c) => [c.event.disposition, c.key, c.topic])).toEqual([
      ['Allowed', 'alice', topics.sessions],
      ['Blocked', 'alice', topics.sessions],
      ['Unauthorized', 'anonymous', topics.sessions],
    ]);
    const auth = events.filter((e) => e.event.class_uid === 3002);
    expect(auth.map((a) => [a.event.status_code, a.key, a.topic])).toEqual([
      ['SLUICE_ERR_AUTH_INVALID', 'anonymous', topics.decisions],
    ]);
    // Each OCSF event names the Sluice line it came from.
    const ids = new Set(sluiceLines.map((e) => e.event_id));
    for (const { event } of events) expect(ids.has(event.metadata.uid)).toBe(true);
  });
});
