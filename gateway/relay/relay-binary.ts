import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { SluiceError } from '../errors.ts';
import { isTextMediaType } from '../inspect/upload-spool.ts';
import { maskText } from '../mask/mask-text.ts';
import { readCappedBody } from '../upstream/capped-body.ts';
import { upstreamError } from '../upstream/forward.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import { relayJson, type RelayContext } from './relay-json.ts';
import type { Relayed } from './relayed.ts';

/** Headers that describe a download, passed to the caller besides the usual ones. */
const DOWNLOAD_HEADERS = ['content-length', 'content-disposition'] as const;

function downloadHeaders(upstream: Dispatcher.ResponseData): Record<string, string> {
  const headers: Record<string, string> = callerResponseHeaders(upstream.headers);
  for (const name of DOWNLOAD_HEADERS) {
    const value = upstream.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  headers['content-type'] ??= 'application/octet-stream';
  return headers;
}

function relayed(status: number, contentType: string, bytes: number, sha256: string): Relayed {
  return {
    response: { status, stream: true, body: { content_type: contentType, size_bytes: bytes, sha256 }, usage: null },
    responseMayHoldEntities: false,
  };
}

/**
 * A text file for a caller whose answers are masked: read whole (up to `maxTextBytes`), masked like
 * an answer's text, then sent. One that cannot be masked (larger, or not UTF-8) is refused, never
 * sent unmasked: otherwise a file a tool wrote would carry what the caller's answers may not.
 */
async function relayMaskedText(
  upstream: Dispatcher.ResponseData,
  reply: FastifyReply,
  ctx: RelayContext,
  maxTextBytes: number,
): Promise<Relayed> {
  const refuse = (why: string) =>
    new SluiceError('SLUICE_ERR_DOWNLOAD_NOT_MASKABLE', `this text file ${why}, so it cannot be masked for you`);
  if (Number(upstream.headers['content-length']) > maxTextBytes) {
    // Cancels the upstream call instead of draining it; the AbortError destroying emits has no reader.
    upstream.body.once('error', () => {});
    upstream.body.destroy();
    throw refuse(`is larger than files.maxScanBytes (${maxTextBytes} bytes)`);
  }
  const raw = await readCappedBody(upstream, maxTextBytes, ctx.connection).catch((err: unknown) => {
    if ((err as SluiceError).code === 'SLUICE_ERR_UPSTREAM_TOO_LARGE') {
      throw refuse(`is larger than files.maxScanBytes (${maxTextBytes} bytes)`);
    }
    throw err;
  });
  ctx.mark('upstream_body');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw refuse('is not UTF-8');
  }
  const { mask } = ctx;
  const masked = maskText(text, mask.kit.detector.scan(text), mask.responseTypes, mask.replacer);
  mask.ledger.add('response.file', masked.counts);
  const bytes = masked.counts.size === 0 ? raw : Buffer.from(masked.text, 'utf8');
  const headers = downloadHeaders(upstream);
  headers['content-length'] = String(bytes.length);
  const result = relayed(
    upstream.statusCode,
    headers['content-type']!,
    bytes.length,
    createHash('sha256').update(bytes).digest('hex'),
  );
  await ctx.beforeEnd?.(result);
  reply.code(upstream.statusCode).headers(headers).send(bytes);
  return result;
}

/**
 * Relays a file download: the upstream's bytes go to the caller as they arrive, under the
 * caller's backpressure, never buffered and never parsed; only their count and SHA-256 are kept,
 * for the audit. The exception is a text file for a caller whose answers the policy masks
 * (relayMaskedText). An upstream error (JSON in the API's shape) is relayed as JSON. With
 * `beforeEnd` (audit durability strict) the last chunk read waits for it: one chunk is held.
 */
export async function relayBinary(
  upstream: Dispatcher.ResponseData,
  reply: FastifyReply,
  ctx: RelayContext,
  maxTextBytes: number,
): Promise<Relayed> {
  if (upstream.statusCode >= 300) return relayJson(upstream, reply, ctx);
  const headers = downloadHeaders(upstream);
  if (ctx.mask.responseTypes.size > 0 && isTextMediaType(headers['content-type']!)) {
    return relayMaskedText(upstream, reply, ctx, maxTextBytes);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  let result: Relayed | undefined;
  const whole = (): Relayed =>
    (result ??= relayed(upstream.statusCode, headers['content-type']!, bytes, hash.digest('hex')));
  const { beforeEnd } = ctx;
  // With beforeEnd, each chunk goes out once the next one arrived: the last waits until beforeEnd
  // has run (its record holds the whole download's count and digest), and a failure cuts it off.
  let held: Buffer | undefined;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      if (bytes === chunk.length) ctx.mark('first_byte');
      if (!beforeEnd) return done(null, chunk);
      const out = held;
      held = chunk;
      done(null, out);
    },
    flush(done) {
      if (!beforeEnd) return done();
      ctx.mark('upstream_body');
      beforeEnd(whole()).then(() => done(null, held), done);
    },
  });
  reply.hijack();
  reply.raw.writeHead(upstream.statusCode, headers);
  try {
    await pipeline(upstream.body, count, reply.raw);
  } catch (err) {
    // Headers are out: a failure now can only cut the download short (the caller sees a short body).
    upstream.body.destroy();
    reply.raw.destroy();
    throw upstreamError(err, ctx.connection);
  }
  if (!beforeEnd) ctx.mark('upstream_body');
  return whole();
}
