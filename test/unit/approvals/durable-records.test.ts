import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { DurableRecords } from '../../../gateway/access/durable-records.ts';

interface Rec {
  id: string;
  n: number;
}

async function file(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'sluice-durable-')), 'state', 'r.jsonl');
}

describe('DurableRecords', () => {
  it('keeps the last version of each record across reopen, compacted, mode 0600', async () => {
    const path = await file();
    const a = DurableRecords.open<Rec>(path);
    a.put({ id: 'x', n: 1 });
    a.put({ id: 'x', n: 2 });
    a.put({ id: 'y', n: 1 });
    a.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3);
    const b = DurableRecords.open<Rec>(path);
    expect(b.get('x')).toEqual({ id: 'x', n: 2 });
    expect(b.values()).toHaveLength(2);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    b.close();
  });

  it('skips a torn last line instead of refusing to start', async () => {
    const path = await file();
    const a = DurableRecords.open<Rec>(path, { sync: false });
    a.put({ id: 'x', n: 1 });
    a.close();
    appendFileSync(path, '{"id":"y","n":');
    const b = DurableRecords.open<Rec>(path);
    expect(b.skippedLines).toBe(1);
    expect(b.values()).toEqual([{ id: 'x', n: 1 }]);
    b.close();
  });

  it('prunes records and rewrites the file without them', async () => {
    const path = await file();
    const a = DurableRecords.open<Rec>(path);
    for (let i = 0; i < 5; i++) a.put({ id: `r${i}`, n: i });
    expect(a.prune((r) => r.n >= 3)).toBe(3);
    a.close();
    expect(
      DurableRecords.open<Rec>(path)
        .values()
        .map((r) => r.id)
        .sort(),
    ).toEqual(['r3', 'r4']);
  });

  it('writes lazy puts later, once per record, and before the next plain put or close', async () => {
    const path = await file();
    const a = DurableRecords.open<Rec>(path, { sync: false });
    const lines = (): string[] => readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
    for (let n = 1; n <= 100; n++) a.put({ id: 'touched', n }, { lazy: true });
    expect(a.get('touched')).toEqual({ id: 'touched', n: 100 });
    expect(lines()).toEqual([]);
    a.put({ id: 'revoked', n: 1 });
    expect(lines().map((l) => JSON.parse(l))).toEqual([
      { id: 'touched', n: 100 },
      { id: 'revoked', n: 1 },
    ]);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onTestFinished(() => void vi.useRealTimers());
    a.put({ id: 'touched', n: 101 }, { lazy: true });
    expect(lines()).toHaveLength(2);
    vi.runOnlyPendingTimers(); // the lazy write's timer, without waiting out its delay
    expect(lines()).toHaveLength(3);
    a.put({ id: 'touched', n: 102 }, { lazy: true });
    a.close();
    expect(DurableRecords.open<Rec>(path).get('touched')).toEqual({ id: 'touched', n: 102 });
  });
});
