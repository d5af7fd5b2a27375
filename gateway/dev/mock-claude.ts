import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSseEvent } from '../relay/sse-writer.ts';
import { apiErrorBody, errorTypeFor, MOCK_MODELS, modelsPage, validateMessagesBody } from './mock-claude-api.ts';
import {
  answeredByFault,
  faultyMessageAnswer,
  streamFaultAfter,
  streamFaultBefore,
  type Fault,
} from './mock-claude-faults.ts';
import {
  buildReply,
  estimateInputTokens,
  messageEvents,
  mockId,
  type MockMessage,
  type MockSseEvent,
} from './mock-claude-responses.ts';
import { MockBatchStore } from './mock-claude-batches.ts';
import { containerProblem, withCodeExecution } from './mock-claude-code-execution.ts';
import { MAX_FILE_BYTES, MockFileStore } from './mock-claude-files.ts';
import { multipartBoundary } from './mock-claude-multipart.ts';
import { MockSkillStore } from './mock-claude-skills.ts';
import type { MockCall, MockClaudeOptions, MockReply, RecordedRequest } from './mock-claude-types.ts';

export type { Fault } from './mock-claude-faults.ts';
export type { MockClaudeOptions, RecordedRequest } from './mock-claude-types.ts';
export type { LargeAnswerEnd } from './mock-claude-large.ts';
export { ECHO_PREFIX } from './mock-claude-responses.ts';
export { MOCK_MODELS, type MockModel } from './mock-claude-api.ts';

/**
 * mock-claude: a local stand-in for the Anthropic Messages API, used by the tests and, clearly
 * labelled, as the echo upstream of `sluice serve` when no ANTHROPIC_API_KEY is set. It speaks
 * the real wire format (auth, validation, Message objects, the SSE event sequence, error bodies)
 * and can inject the failures a real upstream has (mock-claude-faults.ts). Written on node:http
 * rather than Fastify because the faults need raw control of headers, bytes and sockets.
 */

/** Request bodies above this get 413 request_too_large, as the API's 32 MB limit does. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** The API's larger limits: a file upload (500 MB) and a message batch (256 MB). */
const MAX_BATCH_BYTES = 256 * 1024 * 1024;

function bodyLimit(method: string | undefined, path: string): number {
  if (method !== 'POST') return MAX_BODY_BYTES;
  return path === '/v1/files' ? MAX_FILE_BYTES : path === '/v1/messages/batches' ? MAX_BATCH_BYTES : MAX_BODY_BYTES;
}

/** A running mock of the Anthropic API on a local port. */
export class MockClaude extends EventEmitter {
  /** Base URL to give an SDK as `baseURL` or Sluice as a connection's baseUrl. */
  readonly url: string;
  /** Requests received, oldest first (bounded by `maxRecordedRequests`). */
  readonly requests: RecordedRequest[] = [];
  private fault: Fault | undefined;
  /** The Files API's files (uploads and the files code execution creates). */
  readonly files: MockFileStore;
  private readonly batches: MockBatchStore;
  /** The Skills API's skills: Anthropic's pre-built ones and those uploaded. */
  readonly skills = new MockSkillStore();

  private constructor(
    private readonly server: Server,
    private readonly opts: MockClaudeOptions,
  ) {
    super();
    const { address, port } = server.address() as AddressInfo;
    this.url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    this.fault = opts.fault;
    this.files = new MockFileStore(opts.maxFileStorageBytes);
    this.batches = new MockBatchStore({
      processingMs: opts.batchProcessingMs ?? 200,
      origin: () => this.url,
      answer: (params) => this.answer(params),
      check: (params) => containerProblem(params, this.skills),
    });
  }

  /** Starts listening and resolves once the port is bound. */
  static async start(opts: MockClaudeOptions = {}): Promise<MockClaude> {
    // `mock` is declared below, once the port is bound; the handler only runs for requests, which come after that.
    const server = createServer((req, res) => {
      mock.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const mock = new MockClaude(server, opts);
    return mock;
  }

  /** Injects `fault` into every following request; undefined restores normal answers. */
  setFault(fault: Fault | undefined): void {
    this.fault = fault;
  }

  /** Resolves once message batch `id` has ended (canceled or answered); at once if it already has. */
  batchEnded(id: string): Promise<void> {
    return this.batches.ended(id);
  }

  /** Stops listening and drops every open connection, including hung and streaming ones. */
  async close(): Promise<void> {
    this.batches.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = mockId('req');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res
        .writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers })
        .end(JSON.stringify(body));
    };
    const fail = (status: number, message: string, headers?: Record<string, string>): void =>
      send(status, apiErrorBody(errorTypeFor(status), message, requestId), headers);

    const url = new URL(req.url ?? '/', 'http://mock-claude.invalid');
    const limit = bodyLimit(req.method, url.pathname);
    const bytes = await readBody(req, limit);
    if (bytes === undefined) return fail(413, `Request exceeds the maximum allowed number of bytes (${limit})`);
    // A large upload's text is not kept: its bytes are held once, by the file store.
    const upload = multipartBoundary(req.headers['content-type']) !== undefined;
    const raw = upload && bytes.length > MAX_BODY_BYTES ? '' : bytes.toString('utf8');
    const { json, body } = parseJson(raw);
    this.record({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      text: raw,
    });

    const credential = req.headers['x-api-key'] ?? /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (typeof credential !== 'string' || credential === '') return fail(401, 'x-api-key header is required');
    if (this.opts.apiKey !== undefined && credential !== this.opts.apiKey) return fail(401, 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return fail(400, 'anthropic-version: header is required');

    const fault = this.fault;
    if (fault?.kind === 'hang') return; // never answered; close() destroys the socket
    if (this.opts.serviceTimeMs) await sleep(this.opts.serviceTimeMs);
    if (answeredByFault(fault, res, requestId, fail)) return;

    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /v1/messages' || route === 'POST /v1/messages/count_tokens') {
      const countTokens = route.endsWith('count_tokens');
      const problem = json
        ? (validateMessagesBody(body, { countTokens }) ??
          containerProblem(body as Record<string, unknown>, this.skills))
        : 'Request body is not valid JSON';
      if (problem) return fail(400, problem);
      const valid = body as Record<string, unknown>;
      if (countTokens) return send(200, { input_tokens: estimateInputTokens(valid) });
      const message = this.answer(valid);
      const faulty = await faultyMessageAnswer(fault, res, message, { stream: valid.stream === true, requestId });
      if (faulty) {
        if (faulty.largeAnswer) this.emit('large-answer', faulty.largeAnswer);
        return;
      }
      if (valid.stream !== true) return send(200, message);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'request-id': requestId,
      });
      return this.stream(res, messageEvents(message, this.opts.chunkChars ?? 8), fault);
    }
    if (route === 'GET /v1/models') {
      const page = modelsPage(this.opts.models ?? MOCK_MODELS, url.searchParams);
      return typeof page === 'string' ? fail(400, page) : send(200, page);
    }
    const model = /^\/v1\/models\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && model) {
      const id = safeDecode(model[1]!);
      const found = (this.opts.models ?? MOCK_MODELS).find((m) => m.id === id);
      return found ? send(200, found) : fail(404, `model: ${id}`);
    }
    const call: MockCall = {
      method: req.method ?? 'GET',
      url,
      headers: req.headers,
      bytes,
      json: json ? body : undefined,
    };
    const reply: MockReply = {
      json: send,
      error: (status, message, details) =>
        send(status, apiErrorBody(errorTypeFor(status), message, requestId, details)),
      bytes: (status, headers, data) =>
        void res
          .writeHead(status, { 'request-id': requestId, 'content-length': String(Buffer.byteLength(data)), ...headers })
          .end(data),
    };
    if (this.files.route(call, reply) || this.batches.route(call, reply) || this.skills.route(call, reply)) return;
    return fail(404, 'Not found');
  }

  /** The echo for a valid Messages body, with the code execution it asks for (its files join the Files API). */
  private answer(body: Record<string, unknown>): MockMessage {
    return withCodeExecution(buildReply(body), body, this.files);
  }

  /** Writes the events with the configured pacing, applying a stream fault at its point. */
  private async stream(res: ServerResponse, events: MockSseEvent[], fault: Fault | undefined): Promise<void> {
    res.flushHeaders();
    // Each write is awaited until handed to the socket: that respects a slow reader, and a reset
    // fault must not destroy the socket while earlier events still sit in its buffer.
    const write = (text: string) => new Promise<void>((resolve) => res.write(text, () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve)); // the headers reach the socket first
    let deltasSent = 0;
    for (const [i, e] of events.entries()) {
      if (res.destroyed) return;
      const before = streamFaultBefore(fault, i);
      if (before === 'reset') return void res.destroy();
      if (before === 'stall') return; // silent but open until the client or close() ends it
      if (i > 0 && this.opts.interEventDelayMs) await sleep(this.opts.interEventDelayMs);
      if (e.event === 'content_block_delta' && deltasSent++ > 0 && this.opts.deltaIntervalMs)
        await sleep(this.opts.deltaIntervalMs);
      await write(formatSseEvent(e.event, e.data));
      const after = streamFaultAfter(fault, e);
      if (after && 'write' in after) await write(after.write);
      if (after && 'end' in after) return void res.end(after.end);
    }
    res.end();
  }

  private record(request: RecordedRequest): void {
    this.requests.push(request);
    const max = this.opts.maxRecordedRequests ?? 10_000;
    if (this.requests.length > max) this.requests.splice(0, this.requests.length - max);
  }
}

/**
 * The request body, or undefined if it is larger than `limit`. With a content-length the Buffer is allocated once
 * and filled, so a large upload is never held twice (chunks plus their concatenation).
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isInteger(declared) && declared > limit) return undefined;
  const into = Number.isInteger(declared) && declared > 0 ? Buffer.allocUnsafe(declared) : undefined;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (size + chunk.length > (into?.length ?? limit)) return undefined;
    if (into) chunk.copy(into, size);
    else parts.push(chunk);
    size += chunk.length;
  }
  return into ? into.subarray(0, size) : Buffer.concat(parts);
}

/** A path segment decoded, or as sent when its %-escapes are invalid (then it simply matches no model). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The body parsed as JSON when it is JSON; otherwise the text (undefined when empty) with json false. */
function parseJson(text: string): { json: boolean; body: unknown } {
  if (text === '') return { json: false, body: undefined };
  try {
    return { json: true, body: JSON.parse(text) as unknown };
  } catch {
    return { json: false, body: text };
  }
}
