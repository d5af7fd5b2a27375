import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { formatSseEvent } from '../relay/sse-writer.ts';
import type { MockMessage } from './mock-claude-responses.ts';

/** How a large answer went: bytes handed to the socket, and whether the whole answer was sent. */
export interface LargeAnswerEnd {
  readonly bytesWritten: number;
  readonly complete: boolean;
}

/** The large answer's text, one piece: plain words, so no entity detector finds anything in it. */
const PIECE = 'the quick brown fox jumps over the lazy dog while mock-claude pads a very long answer. '.repeat(190);
/** Characters per text_delta of a large stream (about 16 KiB, as one piece). */
const DELTA_CHARS = PIECE.length;

const deltaData = (text: string): unknown => ({
  type: 'content_block_delta',
  index: 0,
  delta: { type: 'text_delta', text },
});

/** What to send: about `bytes` bytes, as SSE or as JSON (with a content-length header or chunked). */
export interface LargeAnswerOptions {
  readonly bytes: number;
  readonly stream: boolean;
  readonly contentLength: boolean;
  readonly requestId: string;
}

/**
 * Writes an answer of about `bytes` bytes (the `large-answer` fault): the echo `message` with
 * its text replaced by filler, as one JSON body (with content-length, or chunked without one) or
 * as the API's SSE event sequence. Generated piece by piece, each write awaited, so the mock
 * itself never holds the answer, and it stops as soon as the client goes away (a gateway
 * cancelling the call): the returned `complete` tells a test which happened.
 */
export async function writeLargeAnswer(
  res: ServerResponse,
  message: MockMessage,
  opts: LargeAnswerOptions,
): Promise<LargeAnswerEnd> {
  const closed = once(res, 'close').then(() => undefined);
  let bytesWritten = 0;
  const write = async (text: string): Promise<boolean> => {
    if (res.destroyed) return false;
    // The callback is dropped when the socket is already gone: the close event ends the wait then.
    await Promise.race([new Promise<void>((resolve) => res.write(text, () => resolve())), closed]);
    bytesWritten += Buffer.byteLength(text);
    return !res.destroyed;
  };
  const filler = async (chars: number, frame: (piece: string) => string): Promise<boolean> => {
    for (let left = chars; left > 0; left -= PIECE.length) {
      if (!(await write(frame(left >= PIECE.length ? PIECE : PIECE.slice(0, left))))) return false;
    }
    return true;
  };
  const done = async (sent: boolean): Promise<LargeAnswerEnd> => {
    if (sent) res.end();
    await closed;
    return { bytesWritten, complete: sent && res.writableFinished };
  };
  const headers = { 'request-id': opts.requestId };
  if (!opts.stream) {
    const marker = '@@mock-claude-filler@@';
    const json = JSON.stringify({ ...message, content: [{ type: 'text', text: marker }] });
    const [prefix, suffix] = json.split(marker) as [string, string];
    const chars = Math.max(0, opts.bytes - Buffer.byteLength(json) + marker.length);
    const total = Buffer.byteLength(json) - marker.length + chars;
    const length = opts.contentLength ? { 'content-length': String(total) } : {};
    res.writeHead(200, { 'content-type': 'application/json', ...headers, ...length });
    return done((await write(prefix)) && (await filler(chars, (p) => p)) && (await write(suffix)));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  const event = (name: string, data: unknown): Promise<boolean> => write(formatSseEvent(name, data));
  const start = { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } };
  const delta = (text: string): string => formatSseEvent('content_block_delta', deltaData(text));
  const usage = { output_tokens: Math.ceil(opts.bytes / 4) };
  const stop = { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage };
  const blockStart = { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
  const sent =
    (await event('message_start', { type: 'message_start', message: start })) &&
    (await event('content_block_start', blockStart)) &&
    // Frames of DELTA_CHARS text each, until the stream is about `bytes` long.
    (await filler(Math.ceil(opts.bytes / (delta(PIECE).length / DELTA_CHARS)), delta)) &&
    (await event('content_block_stop', { type: 'content_block_stop', index: 0 })) &&
    (await event('message_delta', stop)) &&
    (await event('message_stop', { type: 'message_stop' }));
  return done(sent);
}
