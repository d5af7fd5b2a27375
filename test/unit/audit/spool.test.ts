import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
  const event = { kind: n % 2 === 0 ? 'decision' : 'session', subject, timestamp: new Date(at).toISOString() } as const;
  return spoolRecordOf(event, JSON.stringify({ ...event, n }), at);
}
const ns = (recs: { line: string }[]) => recs.map((r) => (JSON.parse(r.line) as { n: number }).n);

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
});
