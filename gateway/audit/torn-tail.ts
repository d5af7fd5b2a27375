/**
 * A crash or a full disk can leave the audit file ending in part of a line. At start that tail
 * is moved aside to `<file>.torn` (appended, so several recoveries keep every fragment) and the
 * file truncated to its last whole line, so the chain verifies; the caller records what was cut
 * as an `audit_recovery` event, so the cut is in the chain itself. A last line that ends in a
 * newline but is not JSON (a file system that lost data in a power cut can leave zeros) is cut
 * the same way: an `audit verify` failure on it would tell nothing the recovery event does not.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fstatSync, openSync, readSync, ftruncateSync } from 'node:fs';

/** What was cut from the end of an audit file. */
export interface TornTail {
  readonly bytes: number;
  readonly sha256: string;
  readonly movedTo: string;
  /** Why: the file did not end in a newline, or its last line was not JSON. */
  readonly reason: 'no trailing newline' | 'not JSON';
}

/** Bytes read back from the end at a time while looking for the last newline. */
const CHUNK = 64 * 1024;

/** Where the line ending at `end` (exclusive) starts: just after the newline before it, or 0. */
function lineStart(fd: number, end: number): number {
  for (let to = end; to > 0; to -= CHUNK) {
    const from = Math.max(0, to - CHUNK);
    const buf = Buffer.alloc(to - from);
    readSync(fd, buf, 0, buf.length, from);
    const nl = buf.lastIndexOf(0x0a);
    if (nl >= 0) return from + nl + 1;
  }
  return 0;
}

function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.alloc(to - from);
  readSync(fd, buf, 0, buf.length, from);
  return buf;
}

function isJson(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Moves a torn or unparsable last line of `path` aside; undefined when the file is absent, empty or ends whole. */
export function recoverTornTail(path: string): TornTail | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    const endsWhole = readRange(fd, size - 1, size)[0] === 0x0a;
    const keep = lineStart(fd, endsWhole ? size - 1 : size);
    // A blank last line is harmless (verify skips it); only a non-empty one that does not parse is cut.
    if (endsWhole && (keep === size - 1 || isJson(readRange(fd, keep, size - 1)))) return undefined;
    const torn = readRange(fd, keep, size);
    const movedTo = `${path}.torn`;
    appendFileSync(movedTo, torn, { mode: 0o600 });
    ftruncateSync(fd, keep);
    const sha256 = createHash('sha256').update(torn).digest('hex');
    return { bytes: torn.length, sha256, movedTo, reason: endsWhole ? 'not JSON' : 'no trailing newline' };
  } finally {
    closeSync(fd);
  }
}
