import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { SseStreamMasker, type MaskedOutput } from '../mask/sse-stream-masker.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import { SseRecorder } from '../upstream/sse-recorder.ts';
import { sseErrorEvent } from '../upstream/sse-writer.ts';
import { upstreamError } from '../upstream/forward.ts';
import type { Exchange } from './exchange.ts';

/**
 * Relays an SSE response chunk by chunk, never buffering the stream: each upstream chunk is
 * written as soon as it arrives (respecting the caller's backpressure) and also fed to a
 * recorder that rebuilds the message and event timing for the session record. If the upstream
 * fails mid-stream the caller gets Anthropic's `event: error` frame and a clean end, not a hang.
 */
export async function relayStream(upstream: Dispatcher.ResponseData, res: ServerResponse, ex: Exchange): Promise<void> {
  const recorder = new SseRecorder();
  // With masking the caller gets the masker's output and the recorder its masked copy; raw bytes reach neither.
  const masker = ex.maskPlan?.touchesResponse ? new SseStreamMasker(ex.maskPlan) : undefined;
  const drainMasker = (out: MaskedOutput): void => {
    recorder.push(Buffer.from(out.record));
    if (out.client !== '' && !res.destroyed) res.write(out.client);
  };
  res.writeHead(upstream.statusCode, {
    ...callerResponseHeaders(upstream.headers),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let failure: { type: string; message: string } | undefined;
  try {
    for await (const chunk of upstream.body) {
      if (ex.timingsMs.first_byte === undefined) ex.mark('first_byte');
      const out = masker?.push(chunk as Buffer);
      recorder.push(out ? Buffer.from(out.record) : (chunk as Buffer));
      const toClient = out ? out.client : (chunk as Buffer);
      if (toClient.length > 0 && !res.write(toClient) && !res.destroyed) await once(res, 'drain');
      if (res.destroyed) break;
    }
  } catch (err) {
    if (!res.destroyed) {
      const mapped = upstreamError(err, ex.connection?.name ?? 'unknown');
      failure = { type: mapped.type, message: `${mapped.message} (stream interrupted)` };
      if (masker) drainMasker(masker.end());
      res.write(sseErrorEvent(failure.type, failure.message));
    }
  }
  if (masker) drainMasker(masker.end());
  recorder.end();
  if (res.destroyed && !failure) failure = { type: 'client_closed', message: 'caller disconnected before the stream ended' };
  if (!res.destroyed) res.end();
  const message = recorder.reconstruct();
  const streamError = recorder.errors[0] as { error?: { type: string; message: string } } | undefined;
  ex.response = {
    status: upstream.statusCode,
    stream: true,
    body: message,
    events: recorder.events.map((e) => ({ event: e.event, at_ms: e.at_ms })),
    events_dropped: recorder.dropped,
    ...(recorder.malformed > 0 ? { events_malformed: recorder.malformed } : {}),
    usage: (message as { usage?: unknown } | undefined)?.usage ?? null,
    ...(failure ? { error: failure } : streamError?.error ? { error: streamError.error } : {}),
  };
}
