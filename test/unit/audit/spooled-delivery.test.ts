import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spoolRecordOf } from '../../../gateway/audit/spool-segments.ts';
import { DeliveryError, SpooledSink, type Transport } from '../../../gateway/audit/spooled-delivery.ts';
import { Spool } from '../../../gateway/audit/spool.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-spooled-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('SpooledSink', () => {
  it('no longer reports delivery failing once the spool shows the batch delivered', async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, fsync: false });
    // Hold the commit's file write open, so the spool is empty while the commit has not finished.
    let releaseCommit!: () => void;
    const held = new Promise<void>((resolve) => (releaseCommit = resolve));
    const commit = spool.commit.bind(spool);
    spool.commit = async (count: number) => {
      const done = commit(count);
      await held;
      await done;
    };
    let sends = 0;
    const transport: Transport = {
      async send() {
        if (sends++ === 0) throw new DeliveryError('HEC answered 503 code 9', 'retry');
      },
    };
    const sink = new SpooledSink('test', transport, {
      spool,
      maxSpoolBytes: 1 << 20,
      onSpoolFull: 'fail-closed',
      maxBatchRecords: 10,
      maxBatchBytes: 1 << 20,
      closeTimeoutMs: 1000,
      configKey: 'test',
    });
    const event = { kind: 'access', subject: 'alice', timestamp: new Date().toISOString() } as const;
    spool.append(spoolRecordOf(event, '{"event_id":"e1"}', Date.now()));
    expect(await sink.drain(10_000)).toBe(true);
    expect(sends).toBe(2);
    expect(sink.health().metrics).toMatchObject({ spool_depth_records: 0, delivery_failing: 0 });
    releaseCommit();
    await sink.close();
  });
});
