/**
 * A crash or a full disk can leave the audit file ending in part of a line. At start that tail
 * is moved aside to `<file>.torn` (appended, so several recoveries keep every fragment) and the
 * file truncated to its last whole line, so the chain verifies; the caller records what was cut
 * as an `audit_recovery` event, so the cut is in the chain itself.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fstatSync, openSync, readSync, ftruncateSync } from 'node:fs';

/** What was cut from the end of an audit file. */
export interface TornTail {
  readonly bytes: number;
  readonly sha256: string;
  readonly movedTo: string;
}

/** Bytes read back from the end at a time while looking for the last newline. */
const CHUNK = 64 * 1024;

/** Moves a torn last line of `path` aside; undefined when the file is absent, empty or ends in a newline. */
export function recoverTornTail(path: string): TornTail | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return undefined;
    // Walk back to the newline that ends the last whole line (or the start of the file).
    let keep = 0;
    for (let end = size; end > 0 && keep === 0; end -= CHUNK) {
      const start = Math.max(0, end - CHUNK);
      const buf = Buffer.alloc(end - start);
      readSync(fd, buf, 0, buf.length, start);
      const nl = buf.lastIndexOf(0x0a);
      if (nl >= 0) keep = start + nl + 1;
    }
    const torn = Buffer.alloc(size - keep);
    readSync(fd, torn, 0, torn.length, keep);
    const movedTo = `${path}.torn`;
    appendFileSync(movedTo, torn, { mode: 0o600 });
    ftruncateSync(fd, keep);
    return { bytes: torn.length, sha256: createHash('sha256').update(torn).digest('hex'), movedTo };
  } finally {
    closeSync(fd);
  }
}
