import { mkdirSync, writeSync } from 'node:fs';
import { appendFile, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readSegments, segmentName, SpoolRecord, type SpoolEntry } from './spool-segments.ts';

/** Spool options; `maxBytes` is what "spool full" means. */
export interface SpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** A new segment file starts once the current one is this large. */
  readonly segmentBytes?: number;
  /** fsync each appended batch, so an event survives a power loss, not only a process crash. */
  readonly fsync?: boolean;
  /**
   * The most line bytes kept in memory for records already on disk (default 16 MiB); the rest are
   * read back from their segment when delivery reaches them. Keeps the gateway's memory flat during
   * a long broker outage, however large `maxBytes` is. Records not yet written always stay in memory.
   */
  readonly memoryBytes?: number;
  /**
   * How often at most the committed offset is saved while delivery goes on (default 200 ms), and
   * so how much a crash re-delivers; saved at once when a segment can be removed, and on close.
   */
  readonly saveOffsetMs?: number;
}

/** Spool metrics, shown on /readyz and /metrics. */
export interface SpoolStats {
  /** Records and bytes appended but not yet delivered (committed). */
  readonly depthRecords: number;
  readonly depthBytes: number;
  /** Age in ms of the oldest undelivered record (0 when empty): the delivery lag. */
  readonly lagMs: number;
  readonly full: boolean;
  /** Set while writes to disk fail (a full disk, an I/O error): the error's code; they are retried. */
  readonly writeError: string | undefined;
  /** Line bytes held in memory: resident records on disk plus those not yet written. */
  readonly residentBytes: number;
  readonly appended: number;
  readonly delivered: number;
}

const COMMIT_FILE = 'committed.json';

/** How often at most a busy spool saves its committed offset by default. */
const SAVE_OFFSET_MS = 200;

/** Retry delays after a failed segment write: from the first to the longest. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;

/** Resolves in the event loop's check phase, after the I/O callbacks of this turn have run. */
function nextCheckPhase(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** How long close() keeps trying to write what is pending while the disk refuses it. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * A local write-ahead spool for audit events bound for Kafka. `append` only enqueues in memory;
 * a background writer appends batches to segment files (JSONL, the audit file's own format).
 * Only records on disk are handed to delivery (`peek`); `commit` records how many were delivered
 * (offset in committed.json) and deletes fully delivered segments. A crash between delivery and
 * commit re-delivers: consumers dedupe by event_id, which is stable. Written by hand: no npm
 * package offers a small durable queue with this append → deliver → commit contract.
 *
 * Memory: every undelivered record keeps its small metadata in memory, but only the oldest records
 * on disk, up to `memoryBytes` of lines, keep their line ("resident"); they are delivered next.
 * Newer lines are dropped once written and read back by `ready()` as delivery frees the budget.
 * Resident records are always a prefix of the records on disk, so `peek` hands out a prefix too.
 */
export class Spool {
  private readonly entries: SpoolEntry[];
  /** Spool offset of entries[0]; entries[i] has offset base + i. */
  private base: number;
  /** How many entries (from the front) are on disk. */
  private persistedCount: number;
  /** How many entries (from the front) are on disk and hold their line, and those lines' bytes. */
  private resident: number;
  private residentBytes: number;
  private unwritten: SpoolEntry[] = [];
  /** Bytes of the lines appended but not yet written: in memory whatever the budget. */
  private unwrittenBytes = 0;
  private depthBytes: number;
  private appended = 0;
  private delivered = 0;
  private writing: Promise<void> = Promise.resolve();
  private segment: { fh: FileHandle; start: number; bytes: number } | undefined;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** The last write failed; and whether the segment may end in part of a batch (cut before the next). */
  private writeError: NodeJS.ErrnoException | undefined;
  private segmentDirty = false;
  /** The committed offset on disk, when it was last saved, and the save under way. */
  private savedOffset: number;
  private offsetSavedAt = 0;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly opts: Required<SpoolOptions>,
    base: number,
    recovered: SpoolEntry[],
    private segments: number[],
  ) {
    this.base = base;
    this.savedOffset = base;
    this.entries = recovered;
    this.persistedCount = recovered.length;
    this.depthBytes = recovered.reduce((sum, e) => sum + e.bytes, 0);
    const resident = recovered.filter((e) => e.data !== undefined);
    this.resident = resident.length;
    this.residentBytes = resident.reduce((sum, e) => sum + e.bytes, 0);
  }

  /** Opens (or creates) the spool in `dir`, with every record not yet delivered (the oldest lines in memory). */
  static async open(options: SpoolOptions): Promise<Spool> {
    const opts = {
      segmentBytes: 16 * 1024 * 1024,
      fsync: true,
      memoryBytes: 16 * 1024 * 1024,
      saveOffsetMs: SAVE_OFFSET_MS,
      ...options,
    };
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const committed = await readCommitted(opts.dir);
    const { base, entries, segments } = await readSegments(opts.dir, committed, opts.memoryBytes);
    return new Spool(opts, base, entries, segments);
  }

  /** In-memory enqueue; the disk write happens off the caller's path. */
  append(rec: SpoolRecord): void {
    if (this.closed) throw new Error('audit spool is closed');
    const entry: SpoolEntry = {
      key: rec.key,
      kind: rec.kind,
      at: rec.at,
      bytes: rec.bytes.length,
      segment: -1,
      pos: -1,
      data: rec.bytes,
    };
    this.entries.push(entry);
    this.unwritten.push(entry);
    this.depthBytes += entry.bytes;
    this.unwrittenBytes += entry.bytes;
    this.appended++;
    // Every record appended until the event loop's next check phase goes out in one write, as
    // the audit file's lines do: one write(2) per event cost ~20 µs a call at 32 connections.
    if (this.unwritten.length === 1) this.writing = this.writing.then(nextCheckPhase).then(() => this.writeUntilDone());
  }

  /**
   * Writes what is pending, retrying with backoff while the disk refuses (a full disk, an I/O
   * error): never rejects, so a failed write neither crashes the process as an unhandled rejection
   * nor wedges the chain of writes behind it.
   */
  private async writeUntilDone(): Promise<void> {
    for (let delay = RETRY_FIRST_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        await this.writeBatch();
        this.writeError = undefined;
        return;
      } catch (err) {
        this.writeError = err as NodeJS.ErrnoException;
      }
      await sleep(delay, undefined, { ref: false });
      if (this.closed) return; // close() gave up on the disk: what is pending is in the audit file
    }
  }

  /** Resolves once every record appended so far is on disk. */
  async persisted(): Promise<void> {
    while (this.unwritten.length > 0 && !this.closed) await this.writing;
    await this.writing;
  }

  /**
   * Up to `max` records (and `maxBytes`, but at least one) on disk and not yet committed, oldest
   * first; does not remove them. Only resident records: call after `ready()`, which loads at least one.
   */
  peek(max: number, maxBytes = Infinity): SpoolRecord[] {
    const out: SpoolRecord[] = [];
    let bytes = 0;
    for (const e of this.entries.slice(0, Math.min(max, this.resident))) {
      if (out.length > 0 && bytes + e.bytes > maxBytes) break;
      out.push(new SpoolRecord(e.data!, e.key, e.kind, e.at));
      bytes += e.bytes;
    }
    return out;
  }

  /** Keeps a record Kafka refuses for good (too large) beside the spool, in rejected.jsonl. */
  async deadLetter(rec: SpoolRecord): Promise<void> {
    await appendFile(join(this.opts.dir, 'rejected.jsonl'), rec.bytes, { mode: 0o600 });
  }

  /** Resolves when records are ready to deliver, their lines loaded for `peek` (or the spool closes). */
  async ready(): Promise<void> {
    if (this.persistedCount === 0 && !this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await this.reload();
  }

  /** Marks the first `count` peeked records delivered and persists the new offset. */
  async commit(count: number): Promise<void> {
    const done = this.entries.splice(0, count);
    this.persistedCount -= done.length;
    this.resident = Math.max(0, this.resident - done.length);
    this.base += done.length;
    this.delivered += done.length;
    for (const e of done) {
      this.depthBytes -= e.bytes;
      if (e.data !== undefined) this.residentBytes -= e.bytes;
    }
    // The offset reaches the disk at most every saveOffsetMs, and whenever a segment can go: a
    // crash re-delivers at most that much, which consumers dedupe by event_id, and a busy spool
    // does not write and rename a file per delivered batch.
    if (Date.now() - this.offsetSavedAt < this.opts.saveOffsetMs && !(this.segments[1]! <= this.base)) return;
    await this.saveOffset();
    await this.dropDeliveredSegments();
  }

  /**
   * Writes the committed offset (through a temporary name), one save at a time. A failed save
   * rejects this call only: the next save tries again.
   */
  private saveOffset(): Promise<void> {
    this.saving = this.saving
      .catch(() => undefined)
      .then(async () => {
        const offset = this.base;
        if (offset === this.savedOffset) return;
        this.offsetSavedAt = Date.now();
        const tmp = join(this.opts.dir, `${COMMIT_FILE}.tmp`);
        await writeFile(tmp, JSON.stringify({ offset }), { mode: 0o600 });
        await rename(tmp, join(this.opts.dir, COMMIT_FILE));
        this.savedOffset = offset;
      });
    return this.saving;
  }

  stats(now = Date.now()): SpoolStats {
    const oldest = this.entries[0]?.at;
    return {
      depthRecords: this.entries.length,
      depthBytes: this.depthBytes,
      lagMs: oldest === undefined ? 0 : Math.max(0, now - oldest),
      full: this.depthBytes >= this.opts.maxBytes,
      writeError: this.writeError && (this.writeError.code ?? this.writeError.message),
      residentBytes: this.residentBytes + this.unwrittenBytes,
      appended: this.appended,
      delivered: this.delivered,
    };
  }

  /**
   * Writes what is pending and closes the segment; undelivered records stay for the next open.
   * While the disk refuses, gives up after CLOSE_TIMEOUT_MS: those records are in the audit file.
   */
  async close(): Promise<void> {
    await Promise.race([this.persisted(), sleep(CLOSE_TIMEOUT_MS, undefined, { ref: false })]);
    // Unsaved, the next start delivers the rest of what is committed again (deduped by event_id).
    await this.saveOffset().catch(() => undefined);
    this.closed = true;
    await this.segment?.fh.close();
    this.segment = undefined;
    this.wake();
  }

  private async writeBatch(): Promise<void> {
    const batch = this.unwritten;
    if (batch.length === 0) return;
    this.unwritten = [];
    try {
      await this.appendBatch(batch);
    } catch (err) {
      // Back in front, in order: the next attempt writes them with whatever was appended since.
      this.unwritten = batch.concat(this.unwritten);
      throw err;
    }
  }

  private async appendBatch(batch: SpoolEntry[]): Promise<void> {
    // A failed append may have left part of a batch: cut it, or record positions would be wrong.
    if (this.segment && this.segmentDirty) await this.segment.fh.truncate(this.segment.bytes);
    this.segmentDirty = false;
    const offset = this.base + this.persistedCount;
    if (!this.segment || this.segment.bytes >= this.opts.segmentBytes) {
      const full = this.segment;
      this.segment = undefined; // so a failed open below is retried with a fresh one, not a closed handle
      await full?.fh.close();
      if (this.segments.at(-1) !== offset) this.segments.push(offset);
      const fh = await open(join(this.opts.dir, segmentName(offset)), 'a', 0o600);
      // Its size, not 0: record positions must be right even if the file is not new.
      this.segment = { fh, start: offset, bytes: (await fh.stat()).size };
    }
    const segment = this.segment;
    let pos = segment.bytes;
    for (const e of batch) {
      e.segment = segment.start;
      e.pos = pos;
      pos += e.bytes;
    }
    this.segmentDirty = true;
    // The lines' bytes as the audit writer encoded them, copied into one buffer, nothing re-encoded.
    // Written synchronously: a write(2) into the page cache costs the event loop a few µs, an
    // asynchronous one ~40 µs of CPU in thread hand-offs (file-sink.ts). A short write is followed
    // by another, so a full disk surfaces as its ENOSPC.
    const data = Buffer.concat(
      batch.map((e) => e.data!),
      pos - segment.bytes,
    );
    for (let at = 0; at < data.length;) at += writeSync(segment.fh.fd, data, at, data.length - at);
    if (this.opts.fsync) await segment.fh.datasync();
    this.segmentDirty = false;
    segment.bytes = pos;
    // Entries may have been committed meanwhile only if they were persisted, so the batch is still in place.
    for (const e of batch) {
      this.unwrittenBytes -= e.bytes;
      // Keep the line only while every older record on disk is resident too (the prefix) and it fits.
      if (this.resident === this.persistedCount && this.fits(e.bytes)) {
        this.resident++;
        this.residentBytes += e.bytes;
      } else {
        e.data = undefined;
      }
      this.persistedCount++;
    }
    this.wake();
  }

  /** One record is always allowed, even past the budget: delivery must progress whatever a line's size. */
  private fits(bytes: number): boolean {
    return this.resident === 0 || this.residentBytes + bytes <= this.opts.memoryBytes;
  }

  /**
   * Reads evicted lines back for the records next in line, as far as the budget allows, one read
   * per segment: the exact bytes written, so the hash chain still verifies what Kafka receives.
   */
  private async reload(): Promise<void> {
    while (this.resident < this.persistedCount && this.fits(this.entries[this.resident]!.bytes)) {
      const first = this.entries[this.resident]!;
      const run = [first];
      let bytes = first.bytes;
      for (let i = this.resident + 1; i < this.persistedCount; i++) {
        const e = this.entries[i]!;
        if (e.segment !== first.segment || this.residentBytes + bytes + e.bytes > this.opts.memoryBytes) break;
        run.push(e);
        bytes += e.bytes;
      }
      const data = await readAt(join(this.opts.dir, segmentName(first.segment)), first.pos, bytes);
      // A commit (or another ready()) meanwhile moved the front: this read may be stale, so start over.
      if (this.entries[this.resident] !== first) continue;
      let at = 0;
      for (const e of run) {
        if (data[at + e.bytes - 1] !== 0x0a)
          throw new Error(`audit spool: ${segmentName(first.segment)} in ${this.opts.dir} changed on disk`);
        e.data = data.subarray(at, at + e.bytes);
        at += e.bytes;
      }
      this.resident += run.length;
      this.residentBytes += bytes;
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** A segment can go once the next one starts at or below the committed offset. */
  private async dropDeliveredSegments(): Promise<void> {
    while (this.segments.length > 1 && this.segments[1]! <= this.base) {
      const start = this.segments.shift()!;
      await rm(join(this.opts.dir, segmentName(start)), { force: true });
    }
  }
}

/** Exactly `length` bytes at `position` of a file; hitting its end means it is not what was written. */
async function readAt(path: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    for (let got = 0; got < length;) {
      const { bytesRead } = await fh.read(buffer, got, length - got, position + got);
      if (bytesRead === 0) throw new Error(`audit spool: ${path} is shorter than what was written`);
      got += bytesRead;
    }
    return buffer;
  } finally {
    await fh.close();
  }
}

async function readCommitted(dir: string): Promise<number> {
  const text = await readFile(join(dir, COMMIT_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return 0;
  const offset = (JSON.parse(text) as { offset?: unknown }).offset;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0)
    throw new Error(`audit spool: ${COMMIT_FILE} in ${dir} is corrupt`);
  return offset;
}
