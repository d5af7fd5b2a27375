import { randomBytes } from 'node:crypto';
import { basename, extname } from 'node:path';
import { multipartBoundary, parseMultipart } from './mock-claude-multipart.ts';
import { listPage, queryList } from './mock-claude-pages.ts';
import type { MockCall, MockReply } from './mock-claude-types.ts';

/**
 * The Files API of mock-claude (/v1/files): upload (multipart, field `file`), list, metadata, download and delete.
 * Files live in memory, one Buffer each (a view into the upload's body, never a copy). As at the API, only files a
 * tool created (code execution, skills) are `downloadable`: downloading an uploaded file is a 400 with error_code
 * `file_not_downloadable`.
 */

/** A file's metadata as the API returns it. */
export interface MockFileMetadata {
  readonly type: 'file';
  readonly id: string;
  readonly filename: string;
  readonly mime_type: string;
  readonly size_bytes: number;
  readonly created_at: string;
  readonly downloadable: boolean;
  readonly expires_at: string | null;
}

/** The API's upload limit per file. */
export const MAX_FILE_BYTES = 500 * 1024 * 1024;

/** expires_in_seconds must lie between one hour and ninety days. */
const EXPIRY_RANGE = [3600, 7_776_000] as const;

/** MIME types by extension, for parts sent as application/octet-stream (what FormData sends for a bare Blob). */
const MIME_BY_EXTENSION: Record<string, string> = {
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

/** A file id in the API's current style: `file_011C` and 20 base62 characters. */
export function fileId(): string {
  return `file_011C${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 20)}`;
}

/** The MIME type the API stores for a file part. */
function mimeTypeOf(filename: string, sent: string | undefined): string {
  const declared = sent?.split(';')[0]?.trim().toLowerCase();
  if (declared && declared !== 'application/octet-stream') return declared;
  return MIME_BY_EXTENSION[extname(filename).toLowerCase()] ?? 'application/octet-stream';
}

/** Default storage quota: bounds the memory of a long-running echo upstream (`sluice serve` without a key). */
export const DEFAULT_FILE_STORAGE_BYTES = 1024 * 1024 * 1024;

/** The files of one mock, in upload order. */
export class MockFileStore {
  private readonly files = new Map<string, { meta: MockFileMetadata; data: Buffer }>();
  private storedBytes = 0;

  /** `quotaBytes`: uploads beyond it are refused with error_code storage_quota_exceeded, as at the API. */
  constructor(private readonly quotaBytes = DEFAULT_FILE_STORAGE_BYTES) {}

  /** Stores `data` as a file; `downloadable` marks files a tool created. */
  add(
    filename: string,
    mimeType: string,
    data: Buffer,
    opts: { downloadable: boolean; expiresInSeconds?: number },
  ): MockFileMetadata {
    const created = Date.now();
    const meta: MockFileMetadata = {
      type: 'file',
      id: fileId(),
      filename,
      mime_type: mimeType,
      size_bytes: data.length,
      created_at: new Date(created).toISOString(),
      downloadable: opts.downloadable,
      expires_at: opts.expiresInSeconds ? new Date(created + opts.expiresInSeconds * 1000).toISOString() : null,
    };
    this.files.set(meta.id, { meta, data });
    this.storedBytes += data.length;
    return meta;
  }

  /** The file's metadata, or undefined when there is no such file. */
  metadata(id: string): MockFileMetadata | undefined {
    return this.files.get(id)?.meta;
  }

  /** The file's bytes, or undefined when there is no such file (tests check what an upload stored). */
  content(id: string): Buffer | undefined {
    return this.files.get(id)?.data;
  }

  /** Answers a /v1/files call; false when the path is not the Files API's. */
  route(call: MockCall, reply: MockReply): boolean {
    const path = call.url.pathname;
    if (path === '/v1/files') {
      if (call.method === 'POST') this.upload(call, reply);
      else if (call.method === 'GET') this.list(call, reply);
      else return false;
      return true;
    }
    const match = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
    if (!match) return false;
    const id = safeDecode(match[1]!);
    const content = match[2] !== undefined;
    const file = this.files.get(id);
    const known = call.method === 'GET' || (call.method === 'DELETE' && !content);
    if (!known) return false;
    if (!file) return (void reply.error(404, `File not found: ${id}`), true);
    if (call.method === 'DELETE') {
      this.files.delete(id);
      this.storedBytes -= file.data.length;
      return (void reply.json(200, { id, type: 'file_deleted' }), true);
    }
    if (!content) return (void reply.json(200, file.meta), true);
    if (!file.meta.downloadable)
      return (void reply.error(400, `File ${id} is not downloadable`, { error_code: 'file_not_downloadable' }), true);
    reply.bytes(
      200,
      {
        'content-type': file.meta.mime_type,
        'content-disposition': `attachment; filename="${file.meta.filename.replace(/["\\\r\n]/g, '_')}"`,
      },
      file.data,
    );
    return true;
  }

  private upload(call: MockCall, reply: MockReply): void {
    const boundary = multipartBoundary(call.headers['content-type']);
    if (!boundary) return reply.error(400, 'Content-Type must be multipart/form-data with a boundary');
    const parts = parseMultipart(call.bytes, boundary);
    if (typeof parts === 'string') return reply.error(400, parts);
    const file = parts.find((p) => p.name === 'file' && p.filename !== undefined);
    if (!file) return reply.error(400, 'file: Field required');
    if (this.storedBytes + file.data.length > this.quotaBytes)
      return reply.error(400, 'File storage quota exceeded: delete files to free up space, then retry the upload', {
        error_code: 'storage_quota_exceeded',
      });
    const expiry = parts.find((p) => p.name === 'expires_in_seconds')?.data.toString('utf8');
    const expiresInSeconds = expiry === undefined ? undefined : Number(expiry);
    if (
      expiresInSeconds !== undefined &&
      (!Number.isInteger(expiresInSeconds) || expiresInSeconds < EXPIRY_RANGE[0] || expiresInSeconds > EXPIRY_RANGE[1])
    )
      return reply.error(
        400,
        `expires_in_seconds: must be an integer between ${EXPIRY_RANGE[0]} and ${EXPIRY_RANGE[1]}`,
      );
    // Only the final path component is kept; an empty name becomes `unnamed` plus the type's extension.
    const sentName = basename((file.filename ?? '').replace(/\\/g, '/'));
    const mimeType = mimeTypeOf(sentName, file.contentType);
    const extension = Object.entries(MIME_BY_EXTENSION).find(([, type]) => type === mimeType)?.[0] ?? '';
    const filename = sentName === '' ? `unnamed${extension}` : sentName;
    reply.json(200, this.add(filename, mimeType, file.data, { downloadable: false, expiresInSeconds }));
  }

  private list(call: MockCall, reply: MockReply): void {
    const newestFirst = [...this.files.values()].map((f) => f.meta).reverse();
    const ids = queryList(call.url.searchParams, 'ids');
    if (ids) {
      if (ids.length > 100) return reply.error(400, 'ids: at most 100 entries');
      const wanted = new Set(ids);
      const data = newestFirst.filter((f) => wanted.has(f.id));
      return reply.json(200, {
        data,
        has_more: false,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        next_page: null,
      });
    }
    const page = listPage(newestFirst, call.url.searchParams);
    return typeof page === 'string' ? reply.error(400, page) : reply.json(200, page);
  }
}

/** A path segment decoded, or as sent when its %-escapes are invalid (then it matches no file). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
