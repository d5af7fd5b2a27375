/**
 * The failures mock-claude can inject (tests and benchmarks only; the echo upstream of `sluice
 * serve` never sets one): each fault is applied at one point of the echo's answer, so the echo
 * itself (gateway/dev/mock-claude.ts) reads as the API and this file as the ways it can break.
 */
import type { ServerResponse } from 'node:http';
import { sseErrorEvent } from '../relay/sse-writer.ts';
import { writeLargeAnswer, type LargeAnswerEnd } from './mock-claude-large.ts';
import type { MockMessage, MockSseEvent } from './mock-claude-responses.ts';

/** A failure to inject into every following request until cleared. */
export type Fault =
  /** An Anthropic-shaped error with this status (and a retry-after header when given). */
  | { kind: 'status'; status: 400 | 401 | 403 | 404 | 413 | 429 | 500 | 503 | 504 | 529; retryAfter?: number }
  /** Accept the request and never send headers. */
  | { kind: 'hang' }
  /** Stream `events` events, then destroy the socket (non-stream: a partial body, then destroy). */
  | { kind: 'reset-after-events'; events: number }
  /** Stream `events` events, then send nothing more and keep the connection open (non-stream: a partial body). */
  | { kind: 'stall-after-events'; events: number }
  /** Stream a data line that is not JSON after the first content block starts. */
  | { kind: 'malformed-sse' }
  /** Stream an `overloaded_error` error event after the first text delta, then end. */
  | { kind: 'error-event' }
  /** Answer 200 with a body that is not JSON. */
  | { kind: 'garbage' }
  /**
   * Answer messages.create with about `bytes` bytes of text (JSON or SSE, as asked), generated as
   * it is sent; a JSON answer declares its content-length unless `contentLength` is false. The
   * mock emits `large-answer` ({bytesWritten, complete}) when the answer's connection closes.
   */
  | { kind: 'large-answer'; bytes: number; contentLength?: boolean };

/** How the echo answers an error: status, message, extra headers. */
type Fail = (status: number, message: string, headers?: Record<string, string>) => void;

/** Before routing: a fault that replaces the whole answer. True when the request is answered (or never will be). */
export function answeredByFault(fault: Fault | undefined, res: ServerResponse, requestId: string, fail: Fail): boolean {
  switch (fault?.kind) {
    case 'hang':
      return true; // never answered; close() destroys the socket
    case 'status': {
      const retry: Record<string, string> =
        fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
      fail(fault.status, fault.status === 529 ? 'Overloaded' : `mock-claude injected a ${fault.status} fault`, retry);
      return true;
    }
    case 'garbage':
      res
        .writeHead(200, { 'content-type': 'application/json', 'request-id': requestId })
        .end('<html><body>502 Bad Gateway</body></html>');
      return true;
    default:
      return false;
  }
}

/**
 * A message answer that a fault replaces: a large generated answer (JSON or SSE), or for JSON a
 * partial body then a reset or a stall. Undefined when the fault leaves the answer alone.
 */
export async function faultyMessageAnswer(
  fault: Fault | undefined,
  res: ServerResponse,
  message: MockMessage,
  opts: { stream: boolean; requestId: string },
): Promise<{ largeAnswer?: LargeAnswerEnd } | undefined> {
  if (fault?.kind === 'large-answer') {
    const large = { bytes: fault.bytes, stream: opts.stream, contentLength: fault.contentLength ?? true };
    return { largeAnswer: await writeLargeAnswer(res, message, { ...large, requestId: opts.requestId }) };
  }
  if (!opts.stream && (fault?.kind === 'reset-after-events' || fault?.kind === 'stall-after-events')) {
    const reset = fault.kind === 'reset-after-events';
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': opts.requestId });
    res.write(JSON.stringify(message).slice(0, 40), () => reset && res.destroy());
    return {};
  }
  return undefined;
}

/** What a stream fault does before event `index` is written: cut the connection, fall silent, or nothing. */
export function streamFaultBefore(fault: Fault | undefined, index: number): 'reset' | 'stall' | undefined {
  if (fault?.kind === 'reset-after-events' && index >= fault.events) return 'reset';
  if (fault?.kind === 'stall-after-events' && index >= fault.events) return 'stall';
  return undefined;
}

/**
 * What a stream fault does after an event was written: a malformed frame to add, or an error
 * event that ends the stream. Undefined when the stream goes on unchanged.
 */
export function streamFaultAfter(
  fault: Fault | undefined,
  e: MockSseEvent,
): { write: string } | { end: string } | undefined {
  if (fault?.kind === 'malformed-sse' && e.event === 'content_block_start') {
    return {
      write: 'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {not json\n\n',
    };
  }
  if (fault?.kind === 'error-event' && e.event === 'content_block_delta') {
    return { end: sseErrorEvent('overloaded_error', 'Overloaded') };
  }
  return undefined;
}
