import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { SseStreamMasker, type MaskedOutput } from './sse-stream-masker.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import { SseFrameSplitter } from './sse-frame-splitter.ts';
import { SseRecorder } from './sse-recorder.ts';
import { sseErrorEvent } from './sse-writer.ts';
import { answerTooLarge } from '../upstream/capped-body.ts';
import { upstreamError } from '../upstream/forward.ts';
import { toSluiceError, type SluiceError } from '../errors.ts';
import type { RelayContext } from './relay-json.ts';
import type { Relayed } from './relayed.ts';

/** Where a stream's last event begins: what `beforeEnd` holds back (Anthropic's streams end with message_stop). */
const STOP_EVENT = /^event:[ \t]*message_stop[ \t]*\r?$/m;

/** The caller-facing failure for an upstream event whose data is not JSON. */
function malformedEvent(event: string): { type: string; message: string } {
  return {
    type: 'api_error',
    message: `upstream sent a malformed "${event}" stream event (data is not JSON); stream ended`,
  };
}

/**
 * Relays an SSE response frame by frame, never buffering the stream: each complete upstream
 * frame is written as soon as it arrives (respecting the caller's backpressure) and also fed to
 * a recorder that rebuilds the message and event timing for the session record. If the upstream
 * fails mid-stream, or sends an event that is not JSON, the caller gets Anthropic's
 * `event: error` frame and a clean end, not a hang or a frame its SDK cannot parse; so does a
 * stream longer than `responseBytes` (counted in upstream bytes), whose upstream call is cancelled.
 */
export async function relayStream(
  upstream: Dispatcher.ResponseData,
  res: ServerResponse,
  ctx: RelayContext,
): Promise<Relayed> {
  const { responseBytes } = ctx;
  const recorder = new SseRecorder({ keepData: false });
  // With beforeEnd, the stream's last event and whatever follows it wait until beforeEnd has run.
  const held: string[] = [];
  const route = (text: string | Buffer): string | Buffer => {
    if (!ctx.beforeEnd || text.length === 0) return text;
    const s = typeof text === 'string' ? text : text.toString('utf8');
    if (held.length > 0) {
      held.push(s);
      return '';
    }
    const at = s.search(STOP_EVENT);
    if (at < 0) return text;
    held.push(s.slice(at));
    return s.slice(0, at);
  };
  // With masking the caller gets the masker's output and the recorder its masked copy; raw bytes reach neither.
  const drainMasker = (out: MaskedOutput): void => {
    recorder.push(Buffer.from(out.record));
    const client = route(out.client);
    if (client.length > 0 && !res.destroyed) res.write(client);
  };
  // The first delta is written as soon as it is masked, before the rest of its read
  // (backpressure is awaited after the read).
  const masker = ctx.mask.touchesResponse ? new SseStreamMasker(ctx.mask, drainMasker) : undefined;
  res.writeHead(upstream.statusCode, {
    ...callerResponseHeaders(upstream.headers),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let failure: { type: string; message: string; code?: string } | undefined;
  const frames = masker ? undefined : new SseFrameSplitter();
  const write = async (text: string | Buffer): Promise<void> => {
    const out = route(text);
    if (out.length > 0 && !res.write(out) && !res.destroyed) await once(res, 'drain');
  };
  let received = 0;
  let cutAtLimit: SluiceError | undefined;
  try {
    for await (const chunk of upstream.body) {
      if (received === 0) ctx.mark('first_byte');
      received += (chunk as Buffer).length;
      if (received > responseBytes) {
        // Nothing of the chunk that crosses the limit is relayed or recorded; leaving the loop cancels the upstream.
        cutAtLimit = answerTooLarge(ctx.connection, responseBytes, `stream of more than ${responseBytes} bytes`);
        failure = { type: cutAtLimit.type, message: `${cutAtLimit.message}; stream ended`, code: cutAtLimit.code };
        if (masker) drainMasker(masker.end());
        if (!res.destroyed) res.write(sseErrorEvent(failure.type, failure.message));
        break;
      }
      if (masker) {
        const out = masker.push(chunk as Buffer);
        recorder.push(Buffer.from(out.record));
        await write(out.client);
        if (masker.broken !== undefined) failure = malformedEvent(masker.broken);
      } else {
        // Whole frames only, each checked as the recorder parses it: a broken one is never relayed.
        for (const frame of frames!.push(chunk as Buffer)) {
          const malformedBefore = recorder.malformed;
          recorder.push(Buffer.from(frame));
          if (recorder.malformed > malformedBefore) {
            failure = malformedEvent(recorder.events.at(-1)?.event ?? 'message');
            break;
          }
          await write(frame);
        }
      }
      if (failure) {
        // Leaving the loop destroys the upstream body: nothing more is read from a broken stream.
        if (!res.destroyed) res.write(sseErrorEvent(failure.type, failure.message));
        break;
      }
      if (res.destroyed) break;
    }
    if (!failure && frames) await write(frames.end());
  } catch (err) {
    if (!res.destroyed) {
      const mapped = upstreamError(err, ctx.connection);
      failure = { type: mapped.type, message: `${mapped.message} (stream interrupted)` };
      if (masker) drainMasker(masker.end());
      res.write(sseErrorEvent(failure.type, failure.message));
    }
  }
  if (masker) drainMasker(masker.end());
  recorder.end();
  if (res.destroyed && !failure)
    failure = { type: 'client_closed', message: 'caller disconnected before the stream ended' };
  const message = recorder.reconstruct();
  const streamError = recorder.errors[0] as { error?: { type: string; message: string } } | undefined;
  const response: Relayed['response'] = {
    status: upstream.statusCode,
    stream: true,
    body: message,
    events: recorder.events.map((e) => ({ event: e.event, at_ms: e.at_ms })),
    events_dropped: recorder.dropped,
    ...(recorder.malformed > 0 ? { events_malformed: recorder.malformed } : {}),
    usage: (message as { usage?: unknown } | undefined)?.usage ?? null,
    ...(failure ? { error: failure } : streamError?.error ? { error: streamError.error } : {}),
  };
  // The audit scans a stream's record again: the stream masker does not report that it masked every entity.
  const relayed: Relayed = { response, responseMayHoldEntities: true, ...(cutAtLimit ? { error: cutAtLimit } : {}) };
  if (ctx.beforeEnd && !res.destroyed) {
    try {
      await ctx.beforeEnd(relayed);
      for (const text of held) res.write(text);
    } catch (err) {
      // The answer's end is not sent: the caller's SDK reports the stream as failed, not complete.
      const refused = toSluiceError(err);
      res.write(sseErrorEvent(refused.type, `${refused.message}; stream ended`));
    }
  }
  if (!res.destroyed) res.end();
  return relayed;
}
