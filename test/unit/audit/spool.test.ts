import { appendFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spoolRecordOf } from '../../../gateway/audit/spool-segments.ts';
import { Spool } from '../../../gateway/audit/spool.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-spool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function record(n: number, subject: string | null = 'alice', at = Date.now()) {
  const event = {
    kind: n % 2 === 0 ? 'decision' : 'exchange',
    subject,
    timestamp: new Date(at).toISOString(),
  } as const;
  return spoolRecordOf(event, JSON.stringify({ ...event, n }), at);
}
const ns = (recs: { line: string }[]) => recs.map((r) => (JSON.parse(r.line) as { n: number }).n);

/**
 * A record of a few hundred bytes, its size varying, with multi-byte characters: byte positions differ from string
 * indexes.
 */
function bigRecord(n: number) {
  const event = {
    kind: n % 2 === 0 ? 'decision' : 'exchange',
    subject: `user-${n % 5}`,
    timestamp: new Date().toISOString(),
  } as const;
  return spoolRecordOf(event, JSON.stringify({ ...event, n, pad: 'é€😀x'.repeat(20 + (n % 30)) }), Date.now());
}
const diskBytes = (lines: string[]) => lines.reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0);
const segmentFiles = async () => (await readdir(dir)).filter((f) => f.startsWith('segment-'));

/**
 * Delivers like the Kafka sink (ready, peek, commit), committing part of some batches, until the
 * spool is empty or `limit` records are delivered; checks the memory bound each round. Returns the lines in order.
 */
async function drain(spool: Spool, max: number, budget: number, limit = Infinity): Promise<string[]> {
  const lines: string[] = [];
  for (let round = 0; spool.stats().depthRecords > 0 && lines.length < limit; round++) {
    await spool.ready();
    const batch = spool.peek(max);
    expect(batch.length).toBeGreaterThan(0);
    expect(spool.stats().residentBytes).toBeLessThanOrEqual(budget);
    const count = round % 3 === 0 ? Math.ceil(batch.length / 2) : batch.length;
    lines.push(...batch.slice(0, count).map((r) => r.line));
    await spool.commit(count);
  }
  return lines;
}

describe('audit spool', () => {
  it('hands out only what is on disk, in append order, and forgets what is committed', async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) spool.append(record(i));
    expect(spool.peek(10)).toEqual([]); // appended in memory, not yet written
    await spool.persisted();
    expect(ns(spool.peek(10))).toEqual([0, 1, 2, 3, 4]);
    expect(spool.peek(2).map((r) => r.key)).toEqual(['alice', 'alice']);
    await spool.commit(2);
    expect(ns(spool.peek(10))).toEqual([2, 3, 4]);
    expect(spool.stats()).toMatchObject({ depthRecords: 3, appended: 5, delivered: 2, full: false });
    await spool.close();
  });

  it('saves the committed offset at most every saveOffsetMs while busy, and on close', async () => {
    const saved = async () =>
      (JSON.parse(await readFile(join(dir, 'committed.json'), 'utf8')) as { offset: number }).offset;
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, saveOffsetMs: 60_000 });
    for (let i = 0; i < 6; i++) spool.append(record(i));
    await spool.persisted();
    await spool.commit(2); // the first save is due at once
    await spool.commit(2);
    expect(await saved()).toBe(2);
    // A crash now re-delivers what was committed since the last save: at-least-once, deduped by event_id.
    expect(ns((await Spool.open({ dir, maxBytes: 1 << 20 })).peek(10))).toEqual([2, 3, 4, 5]);
    await spool.close();
    expect(await saved()).toBe(4);
    expect(ns((await Spool.open({ dir, maxBytes: 1 << 20 })).peek(10))).toEqual([4, 5]);
  });

  it('saves the offset again after a save failed', async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, saveOffsetMs: 0 });
    for (let i = 0; i < 4; i++) spool.append(record(i));
    await spool.persisted();
    await mkdir(join(dir, 'committed.json.tmp')); // the save's temporary file cannot be written
    await expect(spool.commit(1)).rejects.toThrow(/EISDIR/);
    await rm(join(dir, 'committed.json.tmp'), { recursive: true });
    await spool.commit(1);
    expect(JSON.parse(await readFile(join(dir, 'committed.json'), 'utf8'))).toEqual({ offset: 2 });
    await spool.close();
  });

  it('delivers after a restart exactly what was not committed, and continues the offsets', async () => {
    const first = await Spool.open({ dir, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) first.append(record(i, i < 5 ? 'alice' : null));
    await first.persisted();
    await first.commit(4);
    await first.close();

    const second = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(ns(second.peek(100))).toEqual([4, 5, 6, 7, 8, 9]);
    expect(second.peek(100).at(-1)?.key).toBe('anonymous');
    await second.commit(6);
    second.append(record(10));
    await second.close();

    const third = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(ns(third.peek(100))).toEqual([10]);
    await third.close();
  });

  it('cuts a torn last line left by a crash and keeps every whole record', async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    for (let i = 0; i < 3; i++) spool.append(record(i));
    await spool.close();
    const [segment] = (await readdir(dir)).filter((f) => f.startsWith('segment-'));
    await appendFile(join(dir, segment!), '{"kind":"decision","subj');
    const reopened = await Spool.open({ dir, maxBytes: 1 << 20 });
    expect(ns(reopened.peek(10))).toEqual([0, 1, 2]);
    expect((await readFile(join(dir, segment!), 'utf8')).endsWith('}\n')).toBe(true);
    reopened.append(record(3));
    await reopened.close();
    expect(ns((await Spool.open({ dir, maxBytes: 1 << 20 })).peek(10))).toEqual([0, 1, 2, 3]);
  });

  it('rolls segments and deletes those fully delivered', async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 });
    for (let i = 0; i < 20; i++) {
      spool.append(record(i));
      await spool.persisted(); // one batch per record, so segments roll at 200 bytes
    }
    const before = (await readdir(dir)).filter((f) => f.startsWith('segment-'));
    expect(before.length).toBeGreaterThan(3);
    await spool.commit(20);
    const after = (await readdir(dir)).filter((f) => f.startsWith('segment-'));
    expect(after).toEqual([before.at(-1)]);
    expect(JSON.parse(await readFile(join(dir, 'committed.json'), 'utf8'))).toEqual({ offset: 20 });
    await spool.close();
  });

  it('reports full at maxBytes and the age of the oldest undelivered record as lag', async () => {
    const spool = await Spool.open({ dir, maxBytes: 300 });
    spool.append(record(0, 'alice', Date.now() - 5000));
    expect(spool.stats().full).toBe(false);
    expect(spool.stats().lagMs).toBeGreaterThanOrEqual(5000);
    for (let i = 1; i < 5; i++) spool.append(record(i));
    expect(spool.stats().full).toBe(true);
    await spool.persisted();
    await spool.commit(5);
    expect(spool.stats()).toMatchObject({ full: false, lagMs: 0, depthBytes: 0 });
    await spool.close();
  });

  it('keeps only memoryBytes of written lines in memory and reads the rest back byte for byte, in order', async () => {
    const memoryBytes = 4096;
    const spool = await Spool.open({ dir, maxBytes: 1 << 24, segmentBytes: 16 * 1024, memoryBytes, fsync: false });
    const appended: string[] = [];
    const append = (n: number) => {
      const rec = bigRecord(n);
      appended.push(rec.line);
      spool.append(rec);
    };
    for (let i = 0; i < 400; i++) {
      append(i);
      if (i % 7 === 0) await spool.persisted(); // many batches, so segments roll
    }
    await spool.persisted();
    expect((await segmentFiles()).length).toBeGreaterThan(3);
    const maxLine = Math.max(...appended.map((l) => Buffer.byteLength(l) + 1));
    const budget = memoryBytes + maxLine;
    expect(diskBytes(appended)).toBeGreaterThan(20 * budget); // without eviction the bound below could not hold
    expect(spool.stats()).toMatchObject({ depthRecords: 400, depthBytes: diskBytes(appended), full: false });
    expect(spool.stats().residentBytes).toBeGreaterThan(0);
    expect(spool.stats().residentBytes).toBeLessThanOrEqual(budget);

    const delivered = await drain(spool, 9, budget, 200);
    // Appends while evicted records wait: written after them, they must not jump the queue.
    for (let i = 400; i < 450; i++) append(i);
    await spool.persisted();
    expect(spool.stats().residentBytes).toBeLessThanOrEqual(budget);
    delivered.push(...(await drain(spool, 50, budget)));
    expect(delivered).toEqual(appended);
    expect(spool.stats()).toMatchObject({ depthRecords: 0, depthBytes: 0, residentBytes: 0, delivered: 450 });
    await spool.close();
  });

  it('opens a large backlog with only memoryBytes of lines in memory and delivers all of it, in order', async () => {
    const first = await Spool.open({ dir, maxBytes: 1 << 24, segmentBytes: 16 * 1024, fsync: false });
    const appended: string[] = [];
    for (let i = 0; i < 300; i++) {
      const rec = bigRecord(i);
      appended.push(rec.line);
      first.append(rec);
      if (i % 10 === 0) await first.persisted();
    }
    await first.persisted();
    expect(first.stats().residentBytes).toBe(diskBytes(appended)); // the default budget holds them all
    await first.commit(25);
    await first.close();

    const memoryBytes = 3000;
    const second = await Spool.open({ dir, maxBytes: 1 << 24, segmentBytes: 16 * 1024, memoryBytes, fsync: false });
    const undelivered = appended.slice(25);
    const budget = memoryBytes + Math.max(...undelivered.map((l) => Buffer.byteLength(l) + 1));
    expect((await segmentFiles()).length).toBeGreaterThan(3);
    expect(second.stats()).toMatchObject({ depthRecords: 275, depthBytes: diskBytes(undelivered) });
    expect(second.stats().residentBytes).toBeGreaterThan(0);
    expect(second.stats().residentBytes).toBeLessThanOrEqual(budget);
    const extra = bigRecord(300);
    second.append(extra);
    await second.persisted();
    expect(await drain(second, 20, budget)).toEqual([...undelivered, extra.line]);
    await second.close();
  });

  it('still delivers, one at a time, records larger than the whole memory budget', async () => {
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, memoryBytes: 10, fsync: false });
    const lines = [0, 1, 2].map((n) => bigRecord(n));
    for (const rec of lines) spool.append(rec);
    await spool.persisted();
    expect(spool.stats().residentBytes).toBe(Buffer.byteLength(lines[0]!.line) + 1); // one, not none
    const budget = Math.max(...lines.map((r) => Buffer.byteLength(r.line) + 1));
    expect(await drain(spool, 10, budget)).toEqual(lines.map((r) => r.line));
    await spool.close();
  });
});
