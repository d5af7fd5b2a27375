/**
 * The Splunk HEC sink against a local HEC-compatible receiver (test/helpers/hec-receiver.ts) that
 * checks Splunk's documented wire format: envelope, auth header, batching, busy answers, and no
 * loss across a real outage of the receiver in the middle of the load.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type { AuditEvent, SessionAccessEventBody } from '../../../gateway/audit/events.ts';
import type { AuditSink } from '../../../gateway/audit/sink.ts';
import { openAuditLog, type AuditConfig } from '../../../gateway/audit/open-audit.ts';
import { splunkHecSink, type SplunkHecOptions } from '../../../gateway/audit/splunk-hec-sink.ts';
import type { SpooledSink } from '../../../gateway/audit/spooled-delivery.ts';
import { Spool } from '../../../gateway/audit/spool.ts';
import { HecReceiver } from '../../helpers/hec-receiver.ts';

const TOKEN = '11111111-2222-3333-4444-555555555555';
/** How long the receiver stays down mid-load; the acceptance run uses 30000 (SLUICE_TEST_HEC_OUTAGE_MS). */
const OUTAGE_MS = Number(process.env.SLUICE_TEST_HEC_OUTAGE_MS ?? 3000);

let dir: string;
let receiver: HecReceiver;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-hec-'));
  receiver = await HecReceiver.start(TOKEN);
});
afterEach(async () => {
  await receiver.stop();
  await rm(dir, { recursive: true, force: true });
});

function access(i: number, subject = 'alice'): SessionAccessEventBody {
  return {
    kind: 'access',
    object: 'session',
    session_id: `ses_${i}`,
    state: 'opened',
    timestamp: new Date(Date.UTC(2026, 11, 4, 10, 0, 0, i)).toISOString(),
    subject,
    connection: 'anthropic',
    cause: null,
    actor: null,
  };
}

/** Keeps every event the log hands its sinks: AuditLog.record only queues, so the events are read here. */
class Recorded implements AuditSink {
  readonly name = 'recorded';
  readonly events: AuditEvent[] = [];
  write(event: AuditEvent): void {
    this.events.push(event);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

async function sink(overrides: Partial<SplunkHecOptions> = {}): Promise<SpooledSink> {
  const spool = await Spool.open({ dir: join(dir, 'spool'), maxBytes: 64 * 1024 * 1024, fsync: false });
  return splunkHecSink({
    url: receiver.url,
    token: TOKEN,
    index: 'sluice_audit',
    source: 'sluice',
    sourcetype: 'sluice:audit',
    host: 'gw-1',
    tls: { verify: true },
    timeoutMs: 5000,
    spool,
    maxSpoolBytes: 64 * 1024 * 1024,
    onSpoolFull: 'fail-closed',
    maxBatchRecords: 50,
    maxBatchBytes: 900 * 1024,
    closeTimeoutMs: 5000,
    ...overrides,
  });
}

const deliveredIds = (r: HecReceiver): Set<string> =>
  new Set(r.documents.map((d) => (d.fields as { event_id: string }).event_id));

describe('Splunk HEC sink', () => {
  it('posts batches of HEC event documents with the documented envelope and token', async () => {
    const s = await sink();
    const recorded = new Recorded();
    const log = new AuditLog([s, recorded]);
    for (let i = 0; i < 120; i++) log.record(access(i));
    await log.written();
    const sent = recorded.events;
    expect(sent).toHaveLength(120);
    expect(await s.drain(10_000)).toBe(true);
    await log.close();

    expect(receiver.documents).toHaveLength(120);
    // Batched: several events per request (50 at most), not one request each.
    const requests = receiver.answered.get(200)!;
    expect(requests).toBeGreaterThanOrEqual(3);
    expect(requests).toBeLessThan(120);
    receiver.documents.forEach((d, i) => {
      const e = sent[i]!;
      expect(d.event).toEqual(JSON.parse(JSON.stringify(e)));
      expect(d.time).toBe(Date.parse(e.timestamp) / 1000);
      expect(d).toMatchObject({ host: 'gw-1', source: 'sluice', sourcetype: 'sluice:audit', index: 'sluice_audit' });
      expect(d.fields).toEqual({
        event_id: e.event_id,
        kind: 'access',
        instance_id: e.instance_id,
        seq: String(e.seq),
      });
    });
  });

  it('retries while HEC answers 503 "Server is busy" (code 9) and delivers afterwards', async () => {
    receiver.busy = true;
    const s = await sink();
    const recorded = new Recorded();
    const log = new AuditLog([s, recorded]);
    for (let i = 0; i < 10; i++) log.record(access(i));
    await log.written();
    const sent = recorded.events;
    await receiver.until((r) => (r.answered.get(503) ?? 0) >= 2);
    expect(s.health().metrics.delivery_failing).toBe(1);
    expect(receiver.documents).toHaveLength(0);
    receiver.busy = false;
    expect(await s.drain(15_000)).toBe(true);
    expect([...deliveredIds(receiver)]).toEqual(sent.map((e) => e.event_id));
    expect(s.health().metrics.delivery_failing).toBe(0);
    await log.close();
  });

  it('sets aside an event HEC refuses as invalid data, and delivers the rest of its batch', async () => {
    receiver.refuse = (d) => (d.event as { subject?: string }).subject === 'poison';
    const s = await sink();
    const recorded = new Recorded();
    const log = new AuditLog([s, recorded]);
    for (let i = 0; i < 20; i++) log.record(access(i, i === 7 ? 'poison' : 'alice'));
    await log.written();
    expect(await s.drain(10_000)).toBe(true);
    const poison = recorded.events.find((e) => e.subject === 'poison')!;
    expect([...deliveredIds(receiver)]).toEqual(recorded.events.filter((e) => e !== poison).map((e) => e.event_id));
    expect(s.health().metrics.rejected_total).toBe(1);
    const rejected = await readFile(join(dir, 'spool', 'rejected.jsonl'), 'utf8');
    expect(JSON.parse(rejected).event_id).toBe(poison.event_id);
    await log.close();
  });

  it('keeps events while the token is refused, and sends them once it is right', async () => {
    const bad = await sink({ token: 'wrong', closeTimeoutMs: 200 });
    const log = new AuditLog([bad]);
    log.record(access(1));
    await receiver.until((r) => (r.answered.get(403) ?? 0) >= 1);
    await bad.close();
    expect(receiver.documents).toHaveLength(0);
    // A restart with the right token delivers what the spool kept.
    const good = await sink();
    expect(await good.drain(10_000)).toBe(true);
    expect(receiver.documents).toHaveLength(1);
    await good.close();
  });

  it(
    'loses nothing when the receiver is down mid-load, across a restart of the sink',
    async () => {
      const recorded = new Recorded();
      const sent = recorded.events;
      let s = await sink();
      let log = new AuditLog([s, recorded]);
      let loading = true;
      const load = (async () => {
        for (let i = 0; loading; i++) {
          log.record(access(i, `user${i % 7}`));
          await sleep(2);
        }
      })();
      await receiver.until((r) => r.documents.length >= 200);
      await receiver.stop();
      const downAt = Date.now();
      const atOutage = sent.length;
      // Half-way through the outage the gateway restarts: what is spooled must survive it.
      await sleep(OUTAGE_MS / 2);
      expect(s.health().metrics.delivery_failing).toBe(1);
      loading = false;
      await load;
      await log.close();
      s = await sink();
      log = new AuditLog([s, recorded]);
      loading = true;
      const load2 = (async () => {
        for (let i = 0; loading; i++) {
          log.record(access(100_000 + i));
          await sleep(2);
        }
      })();
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      expect(sent.length).toBeGreaterThan(atOutage + 100); // the load went on during the outage
      await receiver.start();
      await receiver.until((r) => r.documents.length >= sent.length - 100);
      loading = false;
      await load2;
      expect(await s.drain(30_000)).toBe(true);
      await log.close();

      const ids = deliveredIds(receiver);
      expect(ids.size).toBe(sent.length);
      expect([...ids].sort()).toEqual(sent.map((e) => e.event_id).sort());
      expect(receiver.documents.length).toBeGreaterThanOrEqual(sent.length); // duplicates allowed, never fewer
    },
    60_000 + OUTAGE_MS * 2,
  );

  it('is built from audit.splunk by openAuditLog, and refuses to start without its token', async () => {
    const config = {
      stateDir: dir,
      audit: {
        file: { path: join(dir, 'audit.jsonl') },
        onWriteFailure: 'fail-closed',
        splunk: {
          url: receiver.url,
          tokenEnv: 'TEST_HEC_TOKEN',
          source: 'sluice',
          sourcetype: 'sluice:audit',
          tls: { verify: true },
          timeoutMs: 5000,
          spool: { maxBytes: 1 << 20, memoryBytes: 1 << 20, fsync: false },
          onSpoolFull: 'fail-closed',
          maxBatchRecords: 100,
          maxBatchBytes: 900 * 1024,
          closeTimeoutMs: 5000,
        },
      },
    } satisfies AuditConfig;
    await expect(openAuditLog(config, undefined, {})).rejects.toThrow(/TEST_HEC_TOKEN is not set/);
    const log = await openAuditLog(config, undefined, { TEST_HEC_TOKEN: TOKEN });
    log.record(access(1));
    await receiver.until((r) => r.documents.length === 1);
    const e = receiver.documents[0]!.event as AuditEvent;
    await log.close();
    expect(receiver.documents[0]!.fields!.event_id).toBe(e.event_id);
    expect(e).toMatchObject({ kind: 'access', session_id: 'ses_1', content: 'masked' });
    // The file sink still has it too, and the spool sits in its default place.
    expect(await readFile(join(dir, 'audit.jsonl'), 'utf8')).toContain(e.event_id);
    expect(await readFile(join(dir, 'audit', 'splunk-spool', 'committed.json'), 'utf8')).toContain('"offset":1');
  });
});
