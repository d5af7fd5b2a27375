import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from './events.ts';

/**
 * One spooled audit event: the exact bytes of its line (the hash chain covers them), encoded once
 * by the audit writer and shared with the file sink, so the spool writes them and Kafka sends them
 * without re-encoding or copying the text.
 */
export class SpoolRecord {
  constructor(
    /** The line's UTF-8 bytes and its newline: what the spool writes. */
    readonly bytes: Buffer,
    /** Kafka message key (the subject) and which topic the record goes to. */
    readonly key: string,
    readonly kind: AuditEvent['kind'],
    /** When the event entered the spool (epoch ms), for the delivery-lag metric. */
    readonly at: number,
  ) {}

  /** The line's bytes without its newline (a view, not a copy): a Kafka record's value. */
  get value(): Buffer {
    return this.bytes.subarray(0, this.bytes.length - 1);
  }

  /** The line as text. */
  get line(): string {
    return this.bytes.toString('utf8', 0, this.bytes.length - 1);
  }
}

const SEGMENT = /^segment-(\d{16})\.jsonl$/;

/** Segment files are named by the spool offset of their first record, so they sort in order. */
export function segmentName(offset: number): string {
  return `segment-${String(offset).padStart(16, '0')}.jsonl`;
}

/**
 * The spool record of an event: the Kafka key (the subject, so one caller's events stay ordered)
 * and topic kind, and the line's bytes with its newline (`bytes`, when the caller has them encoded).
 */
export function spoolRecordOf(
  event: Pick<AuditEvent, 'kind' | 'subject' | 'timestamp'>,
  line: string,
  at: number,
  bytes: Buffer = Buffer.from(`${line}\n`),
): SpoolRecord {
  return new SpoolRecord(bytes, event.subject ?? 'anonymous', event.kind, at);
}

/**
 * What the spool keeps in memory per undelivered record. The line itself is kept only while
 * resident: an evicted line is read back from `pos` in segment `segment`, exactly `bytes` long.
 */
export interface SpoolEntry {
  readonly key: string;
  readonly kind: AuditEvent['kind'];
  readonly at: number;
  /** The line's UTF-8 size plus its newline: what it takes on disk. */
  readonly bytes: number;
  /** Start offset of the segment holding the record, and its byte position in it (-1 until written). */
  segment: number;
  pos: number;
  /** The line's exact bytes with its newline (`bytes` long); undefined while only on disk. */
  data: Buffer | undefined;
}

/** What a spool directory holds past the committed offset. */
export interface RecoveredSpool {
  /** Offset of entries[0]. */
  readonly base: number;
  /** Every undelivered record; only the oldest, up to `memoryBytes` of lines, keep their line. */
  readonly entries: SpoolEntry[];
  /** Start offsets of the segment files on disk, ascending. */
  readonly segments: number[];
}

/**
 * Reads every segment and returns the records at or past `committed`. A torn last line (a crash
 * mid-append) is cut off the file: it was never handed to delivery, so nothing is lost that was
 * acknowledged. Events keep their own timestamp as their spool time, so lag counts the outage.
 * Each line is parsed for its metadata, but only the first `memoryBytes` of lines (at least one
 * line) stay in memory: a long outage can leave far more on disk than the gateway should hold.
 */
export async function readSegments(dir: string, committed: number, memoryBytes: number): Promise<RecoveredSpool> {
  const segments = (await readdir(dir))
    .map((f) => SEGMENT.exec(f)?.[1])
    .filter((m): m is string => m !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const entries: SpoolEntry[] = [];
  let residentBytes = 0;
  let base: number | undefined;
  let next = committed;
  for (const start of segments) {
    const path = join(dir, segmentName(start));
    // Bytes, not text: record positions are byte offsets, for reading evicted lines back.
    const data = await readFile(path);
    const end = data.lastIndexOf(0x0a) + 1;
    if (end < data.length) {
      const fh = await open(path, 'r+');
      await fh.truncate(end);
      await fh.close();
    }
    let offset = start;
    for (let pos = 0; pos < end; offset++) {
      const nl = data.indexOf(0x0a, pos);
      if (offset >= committed) {
        base ??= offset;
        const bytes = nl - pos + 1;
        // Resident lines stay a prefix: once one line is left on disk, all later ones are too.
        const resident =
          entries.length === 0 || (entries.at(-1)!.data !== undefined && residentBytes + bytes <= memoryBytes);
        if (resident) residentBytes += bytes;
        const event = JSON.parse(data.toString('utf8', pos, nl)) as AuditEvent;
        entries.push({
          key: event.subject ?? 'anonymous',
          kind: event.kind,
          at: Date.parse(event.timestamp) || Date.now(),
          bytes,
          segment: start,
          pos,
          // A copy: a view would keep the whole segment's buffer in memory.
          data: resident ? Buffer.from(data.subarray(pos, nl + 1)) : undefined,
        });
      }
      pos = nl + 1;
    }
    next = Math.max(next, offset);
  }
  // With nothing left to deliver, new records continue after the last one ever written.
  return { base: base ?? next, entries, segments };
}
