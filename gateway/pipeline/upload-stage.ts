/**
 * The Files API upload through the pipeline's stages: the spooled file's text read for entities
 * (detect), masked by rewriting the temporary file (mask), and sent upstream as a fresh multipart
 * body streamed from disk (forward). The file's bytes are never held in memory whole, except the
 * text of a text upload up to `files.maxScanBytes`, which the entity scan needs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { EntityMatch } from '../inspect/combined-scan.ts';
import type { Detection } from '../inspect/detect-entities.ts';
import type { DetectorKit } from '../inspect/detector-kit.ts';
import type { Inspected } from '../inspect/inspect-request.ts';
import type { SpooledUpload } from '../inspect/upload-spool.ts';
import type { ForwardPlan } from '../mask/mask-stage.ts';
import { MaskPlan } from '../mask/mask-plan.ts';
import { maskText } from '../mask/mask-text.ts';
import type { PlaceholderNumbering } from '../mask/placeholder-numbering.ts';
import type { MaskDirective } from '../policy/decision.ts';
import type { UploadFacts } from '../policy/input.ts';

/** Media types whose content is text a model reads, and so is scanned for entities. */
const TEXT_TYPES = new Set(['application/json', 'application/x-ndjson', 'application/xml', 'application/yaml']);

/** True for text/*, JSON, XML, YAML (CSV and Markdown are text/csv and text/markdown). */
export function isTextMediaType(mediaType: string): boolean {
  return mediaType.startsWith('text/') || TEXT_TYPES.has(mediaType) || mediaType.endsWith('+json');
}

/** The detect stage's view of an upload: the policy's facts and, for scanned text, the text and its entities. */
export interface UploadScan {
  readonly facts: UploadFacts;
  readonly findings: Readonly<Record<string, number>>;
  /** The decoded text and its matches, for masking; undefined when nothing was scanned. */
  readonly text?: { readonly value: string; readonly matches: readonly EntityMatch[] };
}

/**
 * Reads a text upload (up to `maxScanBytes`) and finds its entities. A text upload larger than
 * that, or not valid UTF-8, is `scanned: false`: the policy decides (the shipped one refuses it).
 */
export async function scanUpload(upload: SpooledUpload, kit: DetectorKit, maxScanBytes: number): Promise<UploadScan> {
  const text = isTextMediaType(upload.mediaType);
  const facts = {
    filename: upload.filename,
    media_type: upload.mediaType,
    size_bytes: upload.sizeBytes,
    sha256: upload.sha256,
    text,
    scanned: false,
  };
  if (!text || upload.sizeBytes > maxScanBytes) return { facts, findings: {} };
  let value: string;
  try {
    value = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(upload.path));
  } catch {
    return { facts, findings: {} };
  }
  const matches = kit.detector.scan(value);
  const findings: Record<string, number> = {};
  for (const m of matches) findings[m.type] = (findings[m.type] ?? 0) + 1;
  return { facts: { ...facts, scanned: true }, findings, text: { value, matches } };
}

/** The detect stage's output for an upload: its findings counted in the facts the policy reads. */
export function uploadDetection(kit: DetectorKit, inspected: Inspected, scan: UploadScan): Detection {
  return {
    facts: { ...inspected.facts, findings: scan.findings },
    scan: { places: [], findings: scan.findings, details: [] },
    maskedInputPaths: [],
    kit,
  };
}

/** The file that goes upstream: the spooled one, or its masked rewrite. */
export interface ForwardedFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

/**
 * The mask stage for an upload: the policy's request masks applied to a scanned text upload by
 * writing the masked text beside the spooled file (same private directory, mode 0600). The plan's
 * body, recorded in the audit, describes the file (name, type, size, SHA-256), never its content.
 */
export async function maskUpload(
  upload: SpooledUpload,
  scan: UploadScan,
  plan: { directive: MaskDirective; kit: DetectorKit; hashKey: Buffer; numbering: PlaceholderNumbering },
): Promise<{ forwardPlan: ForwardPlan; file: ForwardedFile }> {
  const mask = new MaskPlan(plan.kit, plan.directive, plan.hashKey, plan.numbering);
  let file: ForwardedFile = { path: upload.path, sizeBytes: upload.sizeBytes, sha256: upload.sha256 };
  if (scan.text && mask.requestTypes.size > 0) {
    const masked = maskText(scan.text.value, scan.text.matches, mask.requestTypes, mask.replacer);
    if (masked.counts.size > 0) {
      mask.ledger.add('request.file', masked.counts);
      const bytes = Buffer.from(masked.text, 'utf8');
      const path = join(dirname(upload.path), 'masked');
      await writeFile(path, bytes, { flag: 'wx', mode: 0o600 });
      file = { path, sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }
  }
  mask.replacer.sealRequest();
  const body = {
    file: { filename: upload.filename, media_type: upload.mediaType, size_bytes: file.sizeBytes, sha256: file.sha256 },
    ...(upload.expiresInSeconds === undefined ? {} : { expires_in_seconds: upload.expiresInSeconds }),
  };
  return { forwardPlan: { bytes: undefined, body, mask }, file };
}

/** A quoted-string for a Content-Disposition parameter, escaped as browsers and undici's FormData do. */
function quoted(value: string): string {
  return `"${value.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22')}"`;
}

/** The multipart body sent upstream, streamed from the file on disk, and the headers that describe it. */
export function uploadBody(
  upload: SpooledUpload,
  file: ForwardedFile,
): { body: Readable; headers: Record<string, string> } {
  const boundary = `sluice-${randomBytes(24).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename=${quoted(upload.filename)}\r\n` +
      `Content-Type: ${upload.mediaType}\r\n\r\n`,
  );
  const expires =
    upload.expiresInSeconds === undefined
      ? ''
      : `\r\n--${boundary}\r\nContent-Disposition: form-data; name="expires_in_seconds"\r\n\r\n` +
        upload.expiresInSeconds;
  const tail = Buffer.from(`${expires}\r\n--${boundary}--\r\n`);
  async function* body(): AsyncIterable<Buffer> {
    yield head;
    for await (const chunk of createReadStream(file.path)) yield chunk as Buffer;
    yield tail;
  }
  return {
    body: Readable.from(body(), { objectMode: false }),
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + file.sizeBytes + tail.length),
    },
  };
}
