import type { IncomingHttpHeaders } from 'node:http';
import type { MockModel } from './mock-claude-api.ts';
import type { Fault } from './mock-claude-faults.ts';

/** The knobs of mock-claude (gateway/dev/mock-claude.ts): options and recorded requests. */

/** How mock-claude listens and behaves; every field is optional. */
export interface MockClaudeOptions {
  /** The only key accepted (x-api-key or Authorization: Bearer); undefined accepts any non-empty key. */
  readonly apiKey?: string;
  /** Default 127.0.0.1, so by default only this machine can reach it. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Characters per text_delta / input_json_delta. Default 8. */
  readonly chunkChars?: number;
  /** Pause between SSE events. Default 0. */
  readonly interEventDelayMs?: number;
  /**
   * Pause between one content_block_delta and the next, like a model's token rate: the events
   * around the deltas (message_start … ping, content_block_stop … message_stop) are not delayed,
   * as the API sends them. Default 0.
   */
  readonly deltaIntervalMs?: number;
  /** Pause before the response headers, like model latency. Default 0. */
  readonly serviceTimeMs?: number;
  /**
   * Requests kept in `requests` (oldest dropped first) so a long-running echo upstream stays bounded. Default 10 000.
   */
  readonly maxRecordedRequests?: number;
  /** The catalogue served by /v1/models. Default MOCK_MODELS. */
  readonly models?: readonly MockModel[];
  /**
   * How long a message batch stays in_progress before it ends with its results (MockClaude.batchEnded resolves
   * then). Default 200.
   */
  readonly batchProcessingMs?: number;
  /**
   * Bytes the Files API stores at most (files in memory); an upload beyond it is refused with error_code
   * storage_quota_exceeded, as the API refuses one over the organization's quota. Default 1 GiB.
   */
  readonly maxFileStorageBytes?: number;
  /** A fault active from the start, as if setFault had been called. */
  readonly fault?: Fault;
}

/** A request as mock-claude received it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string, e.g. /v1/messages. */
  readonly path: string;
  readonly query: Record<string, string>;
  /** Headers as received, credentials included, so tests can check what the gateway sent upstream. */
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw text if it was not JSON; undefined if empty. */
  readonly body: unknown;
  /**
   * The body's text exactly as received (tests check what the gateway forwarded byte for byte); empty for a
   * multipart upload above 32 MB, whose bytes only the file store keeps.
   */
  readonly text: string;
}

/** A request as the mock's API routes (Files, Skills, Batches) see it, after auth and faults. */
export interface MockCall {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  /** The body exactly as received. */
  readonly bytes: Buffer;
  /** The body parsed as JSON; undefined when it is empty or not JSON. */
  readonly json: unknown;
}

/** How a route answers: JSON, an error in the API's shape, or raw bytes. */
export interface MockReply {
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  /** `details` becomes `error.details` (e.g. `{error_code: 'file_not_downloadable'}`), as the API sends it. */
  error(status: number, message: string, details?: Record<string, unknown>): void;
  bytes(status: number, headers: Record<string, string>, data: Buffer | string): void;
}
