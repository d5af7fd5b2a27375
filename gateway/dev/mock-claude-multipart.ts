/**
 * multipart/form-data bodies as mock-claude receives them (Files and Skills uploads). Hand-written because no
 * multipart library is a dependency and undici's `formData()` copies every part: here each part's data is a view
 * (`subarray`) into the one body Buffer, so a 200 MB upload is held once.
 */

/** One part of a form: a field (`filename` undefined) or a file. */
export interface FormPart {
  readonly name: string;
  /** The part's filename as sent (paths included), undefined for a plain field. */
  readonly filename?: string;
  /** The part's Content-Type, when it has one. */
  readonly contentType?: string;
  /** A view into the request body: not a copy. */
  readonly data: Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');

/** The boundary named by a multipart/form-data Content-Type, or undefined when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** The parts of a multipart body, or a message saying why it is malformed. */
export function parseMultipart(body: Buffer, boundary: string): FormPart[] | string {
  const delimiter = Buffer.from(`--${boundary}`);
  const closing = Buffer.from(`\r\n--${boundary}`);
  let at = body.indexOf(delimiter);
  if (at < 0) return 'multipart body has no boundary delimiter';
  const parts: FormPart[] = [];
  for (;;) {
    at += delimiter.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts; // "--": the closing delimiter
    if (!body.subarray(at, at + 2).equals(CRLF)) return 'malformed multipart delimiter line';
    const headersEnd = body.indexOf(HEADERS_END, at + 2);
    if (headersEnd < 0) return 'multipart part without a header block';
    const headers = parseHeaders(body.subarray(at + 2, headersEnd).toString('utf8'));
    const start = headersEnd + HEADERS_END.length;
    const end = body.indexOf(closing, start);
    if (end < 0) return 'multipart body ends before its closing delimiter';
    const disposition = headers.get('content-disposition') ?? '';
    const name = /(?:^|;)\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) return 'multipart part without a Content-Disposition name';
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
    parts.push({
      name: decodeQuoted(name),
      ...(filename === undefined ? {} : { filename: decodeQuoted(filename) }),
      ...(headers.has('content-type') ? { contentType: headers.get('content-type') } : {}),
      data: body.subarray(start, end),
    });
    at = end + 2; // past the CRLF that belongs to the delimiter
  }
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** FormData implementations (undici, browsers) escape `"`, CR and LF in names as %22, %0D, %0A. */
function decodeQuoted(value: string): string {
  return value.replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
}
