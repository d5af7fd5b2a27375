/**
 * A streaming multipart/form-data reader (RFC 7578). Hand-written because no streaming multipart
 * parser is installed (busboy / @fastify/busboy would be the choice; node_modules is shared and
 * undici's FormData parser buffers the whole body): it holds at most one chunk plus the delimiter's
 * length, and each part's bytes go to a sink that is awaited, so the caller's backpressure holds.
 */
import { SluiceError } from '../errors.ts';

/** A part's headers, as the reader understood them. */
export interface PartHeaders {
  /** `name` of Content-Disposition. */
  readonly name: string;
  /** `filename` (or `filename*`, decoded) of Content-Disposition; undefined for a plain field. */
  readonly filename: string | undefined;
  /** The part's Content-Type, lower-cased without parameters; undefined when absent. */
  readonly contentType: string | undefined;
}

/** Where one part's bytes go. */
export interface PartSink {
  write(data: Buffer): Promise<void> | void;
  end(): Promise<void> | void;
}

/** Longest header block of one part: filenames are short, and a part's headers are never streamed. */
const MAX_HEADER_BYTES = 16 * 1024;
/** Parts of one body unless the caller says otherwise (a file upload has one or two). */
const MAX_PARTS = 16;
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

function bad(detail: string): SluiceError {
  return new SluiceError('SLUICE_ERR_BAD_UPLOAD', `multipart body: ${detail}`);
}

/** The boundary of a `multipart/form-data; boundary=…` content type; throws 400 for anything else. */
export function multipartBoundary(contentType: string | undefined): string {
  const match = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(
    contentType ?? '',
  );
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) {
    throw new SluiceError('SLUICE_ERR_UNSUPPORTED_MEDIA', 'a file upload must be multipart/form-data with a boundary');
  }
  return boundary;
}

/** One Content-Disposition parameter (`name`, `filename`), quoted or not; `filename*` decoded (RFC 5987). */
function dispositionParam(value: string, key: string): string | undefined {
  const extended = new RegExp(`;\\s*${key}\\*\\s*=\\s*([^']*)'[^']*'([^;]*)`, 'i').exec(value);
  if (extended?.[2] !== undefined) {
    try {
      return decodeURIComponent(extended[2].trim());
    } catch {
      throw bad(`${key}* is not valid percent-encoding`);
    }
  }
  const plain = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(value);
  if (!plain) return undefined;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2];
}

function parseHeaders(block: string): PartHeaders {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad('a part header line has no name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value.split(';')[0]!.trim().toLowerCase() || undefined;
  }
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition))
    throw bad('a part has no form-data Content-Disposition');
  const name = dispositionParam(disposition, 'name');
  if (name === undefined) throw bad('a part has no name');
  return { name, filename: dispositionParam(disposition, 'filename'), contentType };
}

/**
 * Reads `source` as multipart/form-data with `boundary`, handing each part's headers to `onPart`
 * and its bytes to the sink it returns. Throws 400 SLUICE_ERR_BAD_UPLOAD on a malformed body (no
 * closing delimiter included); a sink's own error (a size cap) ends the read with that error.
 * More than `maxParts` parts is refused too.
 */
export async function readMultipart(
  source: AsyncIterable<Buffer>,
  boundary: string,
  onPart: (headers: PartHeaders) => PartSink,
  maxParts = MAX_PARTS,
): Promise<void> {
  // Every delimiter, the first included once "\r\n" is put in front of the body, is CRLF "--" boundary.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  type State = 'preamble' | 'after' | 'headers' | 'body' | 'done';
  let state = 'preamble' as State;
  let pending: Buffer = CRLF;
  let sink: PartSink | undefined;
  let parts = 0;

  const step = async (): Promise<boolean> => {
    switch (state) {
      case 'preamble': {
        const at = pending.indexOf(delimiter);
        if (at < 0) {
          if (pending.length > MAX_HEADER_BYTES) throw bad('no opening boundary');
          return false;
        }
        pending = pending.subarray(at + delimiter.length);
        state = 'after';
        return true;
      }
      case 'after': {
        if (pending.length < 2) return false;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          state = 'done'; // the epilogue after the closing delimiter is ignored, as RFC 2046 says
          return false;
        }
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > 256) throw bad('a boundary line does not end');
          return false;
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        if (!/^[ \t]*$/.test(pending.subarray(0, eol).toString('latin1'))) throw bad('text after a boundary');
        pending = pending.subarray(eol + 2);
        state = 'headers';
        return true;
      }
      case 'headers': {
        const end = pending.indexOf(HEADER_END);
        if (end < 0) {
          if (pending.length > MAX_HEADER_BYTES) throw bad('part headers too long');
          return false;
        }
        if (++parts > maxParts) throw bad(`more than ${maxParts} parts`);
        sink = onPart(parseHeaders(pending.subarray(0, end).toString('utf8')));
        pending = pending.subarray(end + HEADER_END.length);
        state = 'body';
        return true;
      }
      case 'body': {
        const at = pending.indexOf(delimiter);
        if (at >= 0) {
          if (at > 0) await sink!.write(pending.subarray(0, at));
          await sink!.end();
          pending = pending.subarray(at + delimiter.length);
          state = 'after';
          return true;
        }
        // Keep what could be the start of a delimiter split across chunks; the rest is the part's.
        const keep = Math.min(pending.length, delimiter.length - 1);
        if (pending.length > keep) {
          await sink!.write(pending.subarray(0, pending.length - keep));
          pending = pending.subarray(pending.length - keep);
        }
        return false;
      }
      case 'done':
        return false;
    }
  };

  let epilogue = 0;
  for await (const chunk of source) {
    if (state === 'done') {
      // Nothing after the closing delimiter is read for long: the body is not a place to park bytes.
      if ((epilogue += chunk.length) > MAX_HEADER_BYTES) throw bad('too much data after the closing boundary');
      continue;
    }
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (await step());
  }
  if (state !== 'done') throw bad('the body ends before its closing boundary');
}
