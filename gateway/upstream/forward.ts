import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { SluiceError } from '../errors.ts';
import type { Connection } from './connections.ts';
import { upstreamRequestHeaders } from './headers.ts';

/**
 * Cancels an upstream call when the caller goes away. undici takes an EventEmitter as its abort
 * signal (documented beside AbortSignal) and reads its `reason`; an AbortController per call,
 * with Node's EventTarget listeners, cost ~2% of the gateway's CPU at saturation.
 */
export class CallerGone extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** What the gateway asks of the upstream: the API path (e.g. /v1/messages) and the body to send. */
export interface UpstreamCall {
  readonly connection: Connection;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** API path plus query string, always one of the gateway's documented routes. */
  readonly path: string;
  readonly callerHeaders: IncomingHttpHeaders;
  /** The bytes to send, or a stream of them (a file upload, read from disk as it goes). */
  readonly body: Buffer | Readable | undefined;
  /** Headers the gateway sets itself, over the caller's (a rebuilt multipart body's type and length). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborted when the caller goes away, so the upstream call is cancelled too. */
  readonly signal: CallerGone;
}

/**
 * Sends one call with undici's pool and returns the response with its body still streaming.
 * undici failures become SluiceErrors: connection failures 502, timeouts 504.
 */
export async function forward(call: UpstreamCall): Promise<Dispatcher.ResponseData> {
  const { connection } = call;
  try {
    return await connection.pool.request({
      method: call.method,
      path: connection.basePath + call.path,
      headers: {
        ...upstreamRequestHeaders(call.callerHeaders, {
          header: connection.authHeader,
          value: connection.credentialHeaderValue(),
        }),
        ...call.headers,
      },
      body: call.body,
      signal: call.signal,
      headersTimeout: connection.headersTimeoutMs,
      bodyTimeout: connection.bodyTimeoutMs,
    });
  } catch (err) {
    throw upstreamError(err, connection.name);
  }
}

/** Maps an undici error (before or during the body) to the gateway's error table. */
export function upstreamError(err: unknown, connectionName: string): SluiceError {
  if (err instanceof SluiceError) return err;
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new SluiceError('SLUICE_ERR_UPSTREAM_TIMEOUT', `upstream "${connectionName}" timed out`, { cause: err });
  }
  return new SluiceError(
    'SLUICE_ERR_UPSTREAM_UNAVAILABLE',
    `upstream "${connectionName}" unavailable: ${(err as Error).message ?? 'connection failed'}`,
    { cause: err },
  );
}
