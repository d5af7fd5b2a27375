/**
 * A Files API upload, spooled: the multipart body is streamed to a private temporary file while
 * its size and SHA-256 are computed, so a 500 MB upload never sits in the gateway's memory.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { once } from 'node:events';
import { SluiceError } from '../errors.ts';
import { multipartBoundary, readMultipart, type PartSink } from './multipart-stream.ts';

/** The upload as spooled: the file on disk and what the policy learns about it. */
export interface SpooledUpload {
  /** The temporary file (mode 0600, in a private 0700 directory under the spool directory); gone after `remove()`. */
  readonly path: string;
  readonly filename: string;
  /** The media type the upstream stores: the part's, or by extension for `application/octet-stream`. */
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** Hex SHA-256 of the bytes received. */
  readonly sha256: string;
  /** The optional `expires_in_seconds` field, as sent (a decimal string). */
  readonly expiresInSeconds: string | undefined;
  /** Removes the temporary file and its directory; safe to call more than once. */
  remove(): Promise<void>;
}

/** Extensions the Files API maps `application/octet-stream` parts to (as the mock and the API do). */
const MEDIA_TYPE_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.html': 'text/html',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

/** The media type a part is stored with: its declared type, unless that says nothing (octet-stream). */
export function effectiveMediaType(filename: string, declared: string | undefined): string {
  if (declared !== undefined && !/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(declared)) {
    throw new SluiceError('SLUICE_ERR_BAD_UPLOAD', `the file part's Content-Type is not a media type`);
  }
  if (declared && declared !== 'application/octet-stream') return declared;
  return MEDIA_TYPE_BY_EXTENSION[extname(filename).toLowerCase()] ?? 'application/octet-stream';
}

/** Media types whose content is text a model reads, and so is scanned for entities. */
const TEXT_TYPES = new Set(['application/json', 'application/x-ndjson', 'application/xml', 'application/yaml']);

/** True for text/*, JSON, XML, YAML (CSV and Markdown are text/csv and text/markdown); parameters ignored. */
export function isTextMediaType(contentType: string): boolean {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return mediaType.startsWith('text/') || TEXT_TYPES.has(mediaType) || mediaType.endsWith('+json');
}

/** Longest value of a plain field (`expires_in_seconds`): a number. */
const MAX_FIELD_BYTES = 64;

function tooLarge(maxBytes: number): SluiceError {
  return new SluiceError('SLUICE_ERR_UPLOAD_TOO_LARGE', `the file exceeds the upload limit of ${maxBytes} bytes`);
}

/** Writes the file part to disk, hashing and counting as it goes; refuses a byte past `maxBytes`. */
class FileSink implements PartSink {
  readonly hash: Hash = createHash('sha256');
  size = 0;
  ended = false;

  constructor(
    private readonly out: WriteStream,
    private readonly maxBytes: number,
  ) {}

  async write(data: Buffer): Promise<void> {
    this.size += data.length;
    if (this.size > this.maxBytes) throw tooLarge(this.maxBytes);
    this.hash.update(data);
    if (!this.out.write(data)) await once(this.out, 'drain');
  }

  async end(): Promise<void> {
    this.ended = true;
    this.out.end();
    await once(this.out, 'finish');
  }
}

/** Collects a short plain field of a multipart upload, refused (400) past `maxBytes`. */
export class FieldSink implements PartSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  value: string | undefined;

  /** `context` starts the refusal's message (e.g. `skill upload: `). */
  constructor(
    private readonly name: string,
    private readonly maxBytes: number = MAX_FIELD_BYTES,
    private readonly context = '',
  ) {}

  write(data: Buffer): void {
    this.size += data.length;
    if (this.size > this.maxBytes)
      throw new SluiceError('SLUICE_ERR_BAD_UPLOAD', `${this.context}field ${this.name} is too long`);
    this.chunks.push(data);
  }

  end(): void {
    this.value = Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Streams an upload's multipart body (`file`, optional `expires_in_seconds`, nothing else: what
 * the policy sees is what goes upstream) into a temporary file. A `content-length` over the limit
 * is refused before a byte is read; a body that grows past it is refused at that byte (413). Any
 * failure removes the file.
 */
export async function spoolUpload(
  body: AsyncIterable<Buffer>,
  headers: { readonly 'content-type'?: string; readonly 'content-length'?: string },
  maxBytes: number,
  spoolDir: string,
): Promise<SpooledUpload> {
  const boundary = multipartBoundary(headers['content-type']);
  // The multipart framing around the file is small; a declared length far over the limit is refused unread.
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes + 64 * 1024) throw tooLarge(maxBytes);

  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(spoolDir, 'upload-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const path = join(dir, 'file');
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  let file: { sink: FileSink; filename: string; declaredType: string | undefined } | undefined;
  const fields = new Map<string, FieldSink>();
  try {
    await readMultipart(body, boundary, (part) => {
      if (part.name === 'file' && part.filename !== undefined) {
        if (file) throw new SluiceError('SLUICE_ERR_BAD_UPLOAD', 'the upload has more than one file part');
        // Only the last path segment is a file name (as the API keeps it): no path reaches the policy or upstream.
        const filename = basename(part.filename.replace(/\\/g, '/')) || 'unnamed';
        file = { sink: new FileSink(out, maxBytes), filename, declaredType: part.contentType };
        return file.sink;
      }
      if (part.name !== 'expires_in_seconds' || part.filename !== undefined || fields.has(part.name)) {
        throw new SluiceError(
          'SLUICE_ERR_BAD_UPLOAD',
          `unexpected part "${part.name}": send "file" and optionally "expires_in_seconds"`,
        );
      }
      const field = new FieldSink(part.name);
      fields.set(part.name, field);
      return field;
    });
    if (!file?.sink.ended) throw new SluiceError('SLUICE_ERR_BAD_UPLOAD', 'the upload has no "file" part');
    const expires = fields.get('expires_in_seconds')?.value;
    if (expires !== undefined && !/^\d{1,12}$/.test(expires.trim())) {
      throw new SluiceError('SLUICE_ERR_BAD_UPLOAD', 'expires_in_seconds must be a whole number of seconds');
    }
    return {
      path,
      filename: file.filename,
      mediaType: effectiveMediaType(file.filename, file.declaredType),
      sizeBytes: file.sink.size,
      sha256: file.sink.hash.digest('hex'),
      expiresInSeconds: expires?.trim(),
      remove,
    };
  } catch (err) {
    // Writes still buffered fail once the stream is destroyed; unheard, that failure would be an uncaught exception.
    out.on('error', () => undefined);
    out.destroy();
    await remove();
    throw err;
  }
}
