import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent } from './events.ts';
import type { SpoolRecord } from './spool.ts';

const SEGMENT = /^segment-(\d{16})\.jsonl$/;

/** Segment files are named by the spool offset of their first record, so they sort in order. */
export function segmentName(offset: number): string {
  return `segment-${String(offset).padStart(16, '0')}.jsonl`;
}

/** The Kafka key (the subject, so one caller's events stay ordered) and topic kind of an event. */
export function spoolRecordOf(event: Pick<AuditEvent, 'kind' | 'subject' | 'timestamp'>, line: string, at: number): SpoolRecord {
  return { line, key: event.subject ?? 'anonymous', kind: event.kind, at };
}

/** What a spool directory holds past the committed offset. */
export interface RecoveredSpool {
  /** Offset of records[0]. */
  readonly base: number;
  readonly records: SpoolRecord[];
  /** Start offsets of the segment files on disk, ascending. */
  readonly segments: number[];
}

/**
 * Reads every segment and returns the records at or past `committed`. A torn last line (a crash
 * mid-append) is cut off the file: it was never handed to delivery, so nothing is lost that was
 * acknowledged. Events keep their own timestamp as their spool time, so lag counts the outage.
 */
export async function readSegments(dir: string, committed: number): Promise<RecoveredSpool> {
  const segments = (await readdir(dir))
    .map((f) => SEGMENT.exec(f)?.[1])
    .filter((m): m is string => m !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const records: SpoolRecord[] = [];
  let base: number | undefined;
  let next = committed;
  for (const start of segments) {
    const path = join(dir, segmentName(start));
    let text = await readFile(path, 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      const fh = await open(path, 'r+');
      await fh.truncate(Buffer.byteLength(text.slice(0, end)));
      await fh.close();
      text = text.slice(0, end);
    }
    const lines = text.split('\n').slice(0, -1);
    next = Math.max(next, start + lines.length);
    lines.forEach((line, i) => {
      if (start + i < committed) return;
      base ??= start + i;
      const event = JSON.parse(line) as AuditEvent;
      records.push(spoolRecordOf(event, line, Date.parse(event.timestamp) || Date.now()));
    });
  }
  // With nothing left to deliver, new records continue after the last one ever written.
  return { base: base ?? next, records, segments };
}
