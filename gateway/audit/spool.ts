import { mkdirSync } from 'node:fs';
import { appendFile, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from './events.ts';
import { readSegments, segmentName } from './spool-segments.ts';

/** One spooled audit event: the exact serialized line (the hash chain covers these bytes). */
export interface SpoolRecord {
  readonly line: string;
  /** Kafka message key (the subject) and which topic the record goes to. */
  readonly key: string;
  readonly kind: AuditEvent['kind'];
  /** When the event entered the spool (epoch ms), for the delivery-lag metric. */
  readonly at: number;
}

/** Spool options; `maxBytes` is what "spool full" means. */
export interface SpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** A new segment file starts once the current one is this large. */
  readonly segmentBytes?: number;
  /** fsync each appended batch, so an event survives a power loss, not only a process crash. */
  readonly fsync?: boolean;
}

/** Spool metrics, shown on /readyz and /metrics. */
export interface SpoolStats {
  /** Records and bytes appended but not yet delivered (committed). */
  readonly depthRecords: number;
  readonly depthBytes: number;
  /** Age in ms of the oldest undelivered record (0 when empty): the delivery lag. */
  readonly lagMs: number;
  readonly full: boolean;
  readonly appended: number;
  readonly delivered: number;
}

interface Entry { readonly rec: SpoolRecord; readonly bytes: number }

const COMMIT_FILE = 'committed.json';

/**
 * A local write-ahead spool for audit events bound for Kafka. `append` only enqueues in memory;
 * a background writer appends batches to segment files (JSONL, the audit file's own format).
 * Only records on disk are handed to delivery (`peek`); `commit` records how many were delivered
 * (offset in committed.json) and deletes fully delivered segments. A crash between delivery and
 * commit re-delivers: consumers dedupe by event_id, which is stable. Written by hand: no npm
 * package offers a small durable queue with this append → deliver → commit contract.
 */
export class Spool {
  private readonly entries: Entry[] = [];
  /** Spool offset of entries[0]; entries[i] has offset base + i. */
  private base: number;
  /** How many entries (from the front) are on disk. */
  private persistedCount: number;
  private unwritten: Entry[] = [];
  private depthBytes = 0;
  private appended = 0;
  private delivered = 0;
  private writing: Promise<void> = Promise.resolve();
  private segment: { fh: FileHandle; bytes: number } | undefined;
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(private readonly opts: Required<SpoolOptions>, base: number, recovered: SpoolRecord[], private segments: number[]) {
    this.base = base;
    for (const rec of recovered) this.push(rec);
    this.persistedCount = recovered.length;
  }

  /** Opens (or creates) the spool in `dir`, loading every record not yet delivered. */
  static async open(options: SpoolOptions): Promise<Spool> {
    const opts = { segmentBytes: 16 * 1024 * 1024, fsync: true, ...options };
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const committed = await readCommitted(opts.dir);
    const { base, records, segments } = await readSegments(opts.dir, committed);
    return new Spool(opts, base, records, segments);
  }

  /** In-memory enqueue; the disk write happens off the caller's path. */
  append(rec: SpoolRecord): void {
    if (this.closed) throw new Error('audit spool is closed');
    this.unwritten.push(this.push(rec));
    this.appended++;
    if (this.unwritten.length === 1) this.writing = this.writing.then(() => this.writeBatch());
  }

  /** Resolves once every record appended so far is on disk. */
  async persisted(): Promise<void> {
    while (this.unwritten.length > 0) await this.writing;
    await this.writing;
  }

  /** Up to `max` records (and `maxBytes`, but at least one) on disk and not yet committed, oldest first; does not remove them. */
  peek(max: number, maxBytes = Infinity): SpoolRecord[] {
    const out: SpoolRecord[] = [];
    let bytes = 0;
    for (const e of this.entries.slice(0, Math.min(max, this.persistedCount))) {
      if (out.length > 0 && bytes + e.bytes > maxBytes) break;
      out.push(e.rec);
      bytes += e.bytes;
    }
    return out;
  }

  /** Keeps a record Kafka refuses for good (too large) beside the spool, in rejected.jsonl. */
  async deadLetter(rec: SpoolRecord): Promise<void> {
    await appendFile(join(this.opts.dir, 'rejected.jsonl'), rec.line + '\n', { mode: 0o600 });
  }

  /** Resolves when records are ready to deliver (or the spool closes). */
  async ready(): Promise<void> {
    if (this.persistedCount > 0 || this.closed) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Marks the first `count` peeked records delivered and persists the new offset. */
  async commit(count: number): Promise<void> {
    const done = this.entries.splice(0, count);
    this.persistedCount -= done.length;
    this.base += done.length;
    this.delivered += done.length;
    for (const e of done) this.depthBytes -= e.bytes;
    const tmp = join(this.opts.dir, `${COMMIT_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify({ offset: this.base }), { mode: 0o600 });
    await rename(tmp, join(this.opts.dir, COMMIT_FILE));
    await this.dropDeliveredSegments();
  }

  stats(now = Date.now()): SpoolStats {
    const oldest = this.entries[0]?.rec.at;
    return {
      depthRecords: this.entries.length,
      depthBytes: this.depthBytes,
      lagMs: oldest === undefined ? 0 : Math.max(0, now - oldest),
      full: this.depthBytes >= this.opts.maxBytes,
      appended: this.appended,
      delivered: this.delivered,
    };
  }

  /** Writes what is pending and closes the segment; undelivered records stay for the next open. */
  async close(): Promise<void> {
    await this.persisted();
    this.closed = true;
    await this.segment?.fh.close();
    this.segment = undefined;
    this.wake();
  }

  private push(rec: SpoolRecord): Entry {
    const entry = { rec, bytes: Buffer.byteLength(rec.line) + 1 };
    this.entries.push(entry);
    this.depthBytes += entry.bytes;
    return entry;
  }

  private async writeBatch(): Promise<void> {
    const batch = this.unwritten;
    if (batch.length === 0) return;
    this.unwritten = [];
    const offset = this.base + this.persistedCount;
    if (!this.segment || this.segment.bytes >= this.opts.segmentBytes) {
      await this.segment?.fh.close();
      if (this.segments.at(-1) !== offset) this.segments.push(offset);
      this.segment = { fh: await open(join(this.opts.dir, segmentName(offset)), 'a', 0o600), bytes: 0 };
    }
    const data = batch.map((e) => e.rec.line + '\n').join('');
    await this.segment.fh.appendFile(data);
    if (this.opts.fsync) await this.segment.fh.datasync();
    this.segment.bytes += Buffer.byteLength(data);
    // Entries may have been committed meanwhile only if they were persisted, so the batch is still in place.
    this.persistedCount += batch.length;
    this.wake();
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

async function readCommitted(dir: string): Promise<number> {
  const text = await readFile(join(dir, COMMIT_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return 0;
  const offset = (JSON.parse(text) as { offset?: unknown }).offset;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new Error(`audit spool: ${COMMIT_FILE} in ${dir} is corrupt`);
  return offset;
}
