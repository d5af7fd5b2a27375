import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { upstreamError } from '../upstream/forward.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import { relayJson, type RelayContext } from './relay-json.ts';
import type { Relayed } from './relayed.ts';

/** Headers that describe a download, passed to the caller besides the usual ones. */
const DOWNLOAD_HEADERS = ['content-length', 'content-disposition'] as const;

/**
 * Relays a file download: the upstream's bytes go to the caller as they arrive, under the
 * caller's backpressure, never buffered and never parsed; only their count and SHA-256 are kept,
 * for the audit. An upstream error (JSON in the API's shape) is relayed as JSON.
 */
export async function relayBinary(
  upstream: Dispatcher.ResponseData,
  reply: FastifyReply,
  ctx: RelayContext,
): Promise<Relayed> {
  if (upstream.statusCode >= 300) return relayJson(upstream, reply, ctx);
  const headers: Record<string, string> = callerResponseHeaders(upstream.headers);
  for (const name of DOWNLOAD_HEADERS) {
    const value = upstream.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  headers['content-type'] ??= 'application/octet-stream';
  const hash = createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      if (bytes === chunk.length) ctx.mark('first_byte');
      done(null, chunk);
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
  ctx.mark('upstream_body');
  return {
    response: {
      status: upstream.statusCode,
      stream: true,
      body: { content_type: headers['content-type'], size_bytes: bytes, sha256: hash.digest('hex') },
      usage: null,
    },
    responseMayHoldEntities: false,
  };
}
