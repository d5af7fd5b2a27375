/**
 * `audit.file.fsync`: a write-ahead wait (written()) ends only once the decision's line is synced,
 * and one fdatasync serves every line that queued while the previous one ran (group commit).
 * fdatasync is held by the test, so what waits for it can be seen.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** Each fdatasync the sink starts, with the callback that ends it (the test decides when, and how). */
const syncs = vi.hoisted(() => [] as Array<(err: NodeJS.ErrnoException | null) => void>);
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    syncs.push((err) => (err ? cb(err) : fs.fdatasync(fd, cb)));
  };
  return { ...fs, default: { ...fs, fdatasync }, fdatasync };
});
const { FileAuditSink } = await import('../../../gateway/audit/file-sink.ts');
const { openAuditLog } = await import('../../../gateway/audit/open-audit.ts');

let dir: string | undefined;
afterEach(async () => {
  syncs.length = 0;
  if (dir) await rm(dir, { recursive: true, force: true });
});

function write(sink: InstanceType<typeof FileAuditSink>, line: string): void {
  sink.write(undefined, line, Buffer.from(`${line}\n`));
}

/**
 * Whether a promise has settled once pending callbacks and microtasks ran. Only the held sync can
 * settle it: the write it waits on is done (the sink starts the sync from the write's callback).
 */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('FileAuditSink with fsync', () => {
  it('written() waits for the sync; lines queued meanwhile share the next one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-fsync-'));
    const sink = new FileAuditSink(join(dir, 'audit.jsonl'), { sync: 'every' });
    write(sink, '{"n":1}');
    const first = sink.written();
    await vi.waitFor(() => expect(syncs).toHaveLength(1));
    // In the file already, but not yet synced: the call must not go upstream.
    expect(await readFile(sink.path, 'utf8')).toBe('{"n":1}\n');
    expect(await settled(first)).toBe(false);
    // Ten calls decide while the first sync runs: one write and one sync for all of them.
    const later = Array.from({ length: 10 }, (_, i) => (write(sink, `{"n":${i + 2}}`), sink.written()));
    syncs[0]!(null);
    await first;
    await vi.waitFor(() => expect(syncs).toHaveLength(2));
    expect(await settled(Promise.all(later))).toBe(false);
    syncs[1]!(null);
    await Promise.all(later);
    expect(syncs).toHaveLength(2);
    expect((await readFile(sink.path, 'utf8')).split('\n').filter(Boolean)).toHaveLength(11);
    await sink.close();
  });

  it('a failed sync refuses the waiting call (fail-closed), and is retried until it succeeds', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-fsync-'));
    const sink = new FileAuditSink(join(dir, 'audit.jsonl'), { sync: 'every' });
    write(sink, '{"n":1}');
    const refused = sink.written();
    await vi.waitFor(() => expect(syncs).toHaveLength(1));
    syncs[0]!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(refused).rejects.toMatchObject({ code: 'EIO' });
    expect(sink.health()).toMatchObject({ accepting: false, reason: expect.stringContaining('(EIO)') });
    // The retry syncs again, with nothing new to write; the sink accepts once it succeeds.
    await vi.waitFor(() => expect(syncs).toHaveLength(2));
    syncs[1]!(null);
    await vi.waitFor(() => expect(sink.health().accepting).toBe(true));
    write(sink, '{"n":2}');
    const next = sink.written();
    await vi.waitFor(() => expect(syncs).toHaveLength(3));
    syncs[2]!(null);
    await next;
    await sink.close();
  });

  it('audit.file.fsync reaches the file sink openAuditLog builds', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-fsync-'));
    const file = join(dir, 'audit.jsonl');
    const audit = { file: { path: file, fsync: true }, onWriteFailure: 'fail-closed' as const };
    const log = await openAuditLog({ stateDir: dir, audit });
    log.record({ kind: 'access', timestamp: new Date().toISOString() } as never);
    const written = log.written();
    await vi.waitFor(() => expect(syncs).toHaveLength(1));
    expect(await settled(written)).toBe(false);
    syncs[0]!(null);
    await written;
    await log.close();
  });
});
