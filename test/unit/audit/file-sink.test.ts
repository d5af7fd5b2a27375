import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileAuditSink } from '../../../gateway/audit/file-sink.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** As AuditLog hands a line over: the text and its UTF-8 bytes with the newline. */
function write(sink: FileAuditSink, line: string): void {
  sink.write(undefined, line, Buffer.from(`${line}\n`));
}

describe('FileAuditSink', () => {
  it('flush() resolves only once every line written so far is in the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-file-sink-'));
    const sink = new FileAuditSink(join(dir, 'audit.jsonl'));
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) write(sink, JSON.stringify({ round, i, pad: 'x'.repeat(2000) }));
      await sink.flush();
      const lines = (await readFile(sink.path, 'utf8')).split('\n').filter(Boolean);
      expect(lines).toHaveLength((round + 1) * 50);
    }
    await sink.close();
    expect((await stat(sink.path)).mode & 0o777).toBe(0o600);
  });

  it('stops accepting while more than its limit waits in memory, and accepts again once written', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-file-sink-'));
    const sink = new FileAuditSink(join(dir, 'audit.jsonl'), { maxPendingBytes: 64 * 1024 });
    expect(sink.health()).toMatchObject({ accepting: true, metrics: { pending_bytes: 0 } });
    // Written in one turn: nothing reaches the file before the loop ends, so all of it is pending.
    const line = JSON.stringify({ text: 'é'.repeat(1000) });
    for (let i = 0; i < 100; i++) write(sink, line);
    const behind = sink.health();
    expect(behind.accepting).toBe(false);
    expect(behind.reason).toMatch(/audit file .*audit\.jsonl is \d+ MiB behind/);
    expect(behind.metrics.pending_bytes).toBeGreaterThan(64 * 1024);
    await sink.flush();
    expect(sink.health()).toMatchObject({ accepting: true, metrics: { pending_bytes: 0 } });
    const lines = (await readFile(sink.path, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(100);
    expect(JSON.parse(lines[99]!)).toEqual({ text: 'é'.repeat(1000) });
    await sink.close();
  });
});

describe('FileAuditSink when writes fail', () => {
  it('a file that refuses every write (/dev/full, ENOSPC): no throw, stops accepting, says why, counts', async () => {
    const sink = new FileAuditSink('/dev/full');
    write(sink, JSON.stringify({ n: 1 }));
    // The first write fails on a later turn of the event loop: written() rejects when it does.
    await expect(sink.written()).rejects.toMatchObject({ code: 'ENOSPC' });
    const health = sink.health();
    expect(health).toMatchObject({ accepting: false, reason: 'audit file /dev/full cannot be written (ENOSPC)' });
    expect(health.metrics.write_failures_total).toBeGreaterThanOrEqual(1);
    expect(health.metrics.pending_bytes).toBeGreaterThan(0);
  });

  it('fail-closed never drops an event, however long the disk refuses, and refuses write-ahead waits', async () => {
    const sink = new FileAuditSink('/dev/full', { maxPendingBytes: 1024 });
    write(sink, 'x'.repeat(100));
    await expect(sink.written()).rejects.toMatchObject({ code: 'ENOSPC' });
    for (let i = 0; i < 20; i++) write(sink, 'y'.repeat(100));
    expect(sink.health().metrics.dropped_events_total).toBe(0);
    expect(sink.health().metrics.pending_bytes).toBe(21 * 101);
    await expect(sink.written()).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('fail-open lets write-ahead waits through while writes fail, logged at error and counted', async () => {
    const errors: Array<{ obj: object; msg: string }> = [];
    const logger = { error: (obj: object, msg: string) => errors.push({ obj, msg }), info: () => undefined };
    const sink = new FileAuditSink('/dev/full', { onWriteFailure: 'fail-open', logger });
    write(sink, JSON.stringify({ n: 1 }));
    // The first wait meets the failing write, the later ones a sink that already knows.
    await sink.written();
    write(sink, JSON.stringify({ n: 2 }));
    await sink.written();
    const metrics = { unrecorded_calls_total: 2, dropped_events_total: 0 };
    expect(sink.health()).toMatchObject({ accepting: true, metrics });
    expect(sink.health().reason).toBe('audit file /dev/full cannot be written (ENOSPC)');
    expect(errors.map((e) => e.msg)).toEqual([
      'audit file write failed; retrying until it succeeds',
      'audit file not writable (fail-open): calls go upstream before their decision is written',
    ]);
  });

  it('fail-open keeps accepting while writes fail, and drops (counted) once its queue is full', async () => {
    const sink = new FileAuditSink('/dev/full', { onWriteFailure: 'fail-open', maxPendingBytes: 1024 });
    write(sink, 'x'.repeat(100));
    await sink.written(); // fail-open: resolves when the write fails, the event still queued
    expect(sink.health().metrics.write_failures_total).toBeGreaterThan(0);
    expect(sink.health().accepting).toBe(true);
    for (let i = 0; i < 20; i++) write(sink, 'y'.repeat(100));
    expect(sink.health().metrics.dropped_events_total).toBeGreaterThan(0);
    expect(sink.health().metrics.pending_bytes).toBeLessThanOrEqual(1024);
  });
});
