import { validateMessagesBody } from './mock-claude-api.ts';
import { listPage } from './mock-claude-pages.ts';
import { mockId, type MockMessage } from './mock-claude-responses.ts';
import type { MockCall, MockReply } from './mock-claude-types.ts';

/**
 * The Message Batches API of mock-claude (/v1/messages/batches): create, retrieve, list, results (JSONL), cancel,
 * delete. Each request's params are checked like a Messages call; a batch stays `in_progress` for `processingMs`
 * (a timer, not a poll), then ends with every request answered by the same echo a Messages call gets, or
 * `canceled` when it was canceled first. `results_url` is absolute on the mock, as the API's is on its host.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Message Batch object as the API returns it. */
export interface MockMessageBatch {
  type: 'message_batch';
  id: string;
  processing_status: 'in_progress' | 'canceling' | 'ended';
  request_counts: { processing: number; succeeded: number; errored: number; canceled: number; expired: number };
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

interface BatchEntry {
  readonly batch: MockMessageBatch;
  readonly requests: ReadonlyArray<{ custom_id: string; params: Obj }>;
  /** The JSONL results, set when the batch ends. */
  results?: string;
  timer?: NodeJS.Timeout;
  readonly ended: Promise<void>;
  readonly end: () => void;
}

/** What the batch store needs from its mock. */
export interface BatchStoreOptions {
  /** How long a batch stays in_progress before it ends. */
  readonly processingMs: number;
  /** The mock's base URL, for `results_url`. */
  readonly origin: () => string;
  /** The echo for one request's params (already validated). */
  readonly answer: (params: Obj) => MockMessage;
  /** A further check of valid Messages params (the mock's `container`), as a Messages call makes it. */
  readonly check: (params: Obj) => string | undefined;
}

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** The API accepts up to 100 000 requests in one batch. */
const MAX_REQUESTS = 100_000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The batches of one mock, in creation order. */
export class MockBatchStore {
  private readonly batches = new Map<string, BatchEntry>();

  constructor(private readonly opts: BatchStoreOptions) {}

  /** Resolves once batch `id` has ended (at once if it has); rejects for an unknown id. */
  async ended(id: string): Promise<void> {
    const entry = this.batches.get(id);
    if (!entry) throw new Error(`no message batch ${id}`);
    return entry.ended;
  }

  /** Stops every pending batch timer (the mock is closing). */
  close(): void {
    for (const entry of this.batches.values()) clearTimeout(entry.timer);
  }

  /** Answers a /v1/messages/batches call; false when the path is not the Batches API's. */
  route(call: MockCall, reply: MockReply): boolean {
    const path = call.url.pathname;
    if (path === '/v1/messages/batches') {
      if (call.method === 'POST') this.create(call, reply);
      else if (call.method === 'GET') {
        const newestFirst = [...this.batches.values()].map((e) => e.batch).reverse();
        const page = listPage(newestFirst, call.url.searchParams);
        if (typeof page === 'string') reply.error(400, page);
        else
          reply.json(200, { data: page.data, has_more: page.has_more, first_id: page.first_id, last_id: page.last_id });
      } else return false;
      return true;
    }
    const match = /^\/v1\/messages\/batches\/([^/]+)(\/results|\/cancel)?$/.exec(path);
    if (!match) return false;
    const action = `${call.method} ${match[2] ?? ''}`;
    if (!['GET ', 'DELETE ', 'GET /results', 'POST /cancel'].includes(action)) return false;
    const id = match[1]!;
    const entry = this.batches.get(id);
    if (!entry) return (void reply.error(404, `Message batch not found: ${id}`), true);
    const { batch } = entry;
    if (action === 'GET ') return (void reply.json(200, batch), true);
    if (action === 'POST /cancel') {
      if (batch.processing_status === 'ended')
        return (void reply.error(400, `Message batch ${id} has already ended and cannot be canceled`), true);
      if (batch.processing_status === 'in_progress') {
        batch.processing_status = 'canceling';
        batch.cancel_initiated_at = new Date().toISOString();
        // Nothing of a mock batch is processed before it ends, so canceling settles on the next turn.
        clearTimeout(entry.timer);
        entry.timer = setTimeout(() => this.finish(entry), 0);
      }
      return (void reply.json(200, batch), true);
    }
    if (batch.processing_status !== 'ended' || entry.results === undefined) {
      const what = action === 'DELETE ' ? 'deleted' : 'read';
      const hint = action === 'DELETE ' ? '; cancel it first' : '';
      return (
        void reply.error(400, `Message batch ${id} is still ${batch.processing_status}: it cannot be ${what}${hint}`),
        true
      );
    }
    if (action === 'DELETE ') {
      this.batches.delete(id);
      return (void reply.json(200, { id, type: 'message_batch_deleted' }), true);
    }
    reply.bytes(
      200,
      {
        'content-type': 'application/x-jsonl',
        'content-disposition': `attachment; filename*=utf-8''${id}_results.jsonl`,
      },
      entry.results,
    );
    return true;
  }

  private create(call: MockCall, reply: MockReply): void {
    const problem = checkBatchBody(call.json, this.opts.check);
    if (problem) return reply.error(400, problem);
    const requests = (call.json as { requests: Array<{ custom_id: string; params: Obj }> }).requests;
    const now = Date.now();
    const batch: MockMessageBatch = {
      type: 'message_batch',
      id: mockId('msgbatch'),
      processing_status: 'in_progress',
      request_counts: { processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + DAY_MS).toISOString(),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    };
    let end = (): void => {};
    const ended = new Promise<void>((resolve) => (end = resolve));
    const entry: BatchEntry = { batch, requests, ended, end };
    entry.timer = setTimeout(() => this.finish(entry), this.opts.processingMs);
    this.batches.set(batch.id, entry);
    reply.json(200, batch);
  }

  /** Ends the batch: answers every request (or cancels them all), then publishes the results. */
  private finish(entry: BatchEntry): void {
    const { batch } = entry;
    const canceled = batch.processing_status === 'canceling';
    const lines = entry.requests.map(({ custom_id, params }) =>
      JSON.stringify({
        custom_id,
        result: canceled ? { type: 'canceled' } : { type: 'succeeded', message: this.opts.answer(params) },
      }),
    );
    entry.results = lines.map((line) => `${line}\n`).join('');
    const n = entry.requests.length;
    batch.request_counts = {
      processing: 0,
      succeeded: canceled ? 0 : n,
      errored: 0,
      canceled: canceled ? n : 0,
      expired: 0,
    };
    batch.processing_status = 'ended';
    batch.ended_at = new Date().toISOString();
    batch.results_url = `${this.opts.origin()}/v1/messages/batches/${batch.id}/results`;
    entry.end();
  }
}

/** The API's complaint about a batch body, or undefined when every request is valid. */
function checkBatchBody(body: unknown, check: (params: Obj) => string | undefined): string | undefined {
  if (!isObj(body)) return 'Request body must be a JSON object';
  const requests = body.requests;
  if (requests === undefined) return 'requests: Field required';
  if (!Array.isArray(requests)) return 'requests: Input should be a valid list';
  if (requests.length === 0) return 'requests: List should have at least 1 item after validation, not 0';
  if (requests.length > MAX_REQUESTS) return `requests: List should have at most ${MAX_REQUESTS} items`;
  const seen = new Set<string>();
  for (const [i, request] of requests.entries()) {
    if (!isObj(request)) return `requests.${i}: Input should be a valid dictionary`;
    const id = request.custom_id;
    if (id === undefined) return `requests.${i}.custom_id: Field required`;
    if (typeof id !== 'string' || !CUSTOM_ID.test(id))
      return `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
    if (seen.has(id)) return `Duplicate custom_id: ${id}. Each request in a batch must have a unique custom_id.`;
    seen.add(id);
    if (request.params === undefined) return `requests.${i}.params: Field required`;
    if (!isObj(request.params)) return `requests.${i}.params: Input should be a valid dictionary`;
    const problem = validateMessagesBody(request.params, { countTokens: false }) ?? check(request.params);
    if (problem) return `requests.${i}.params.${problem}`;
    if ((request.params as Obj).stream === true) return `requests.${i}.params.stream: batch requests cannot stream`;
  }
  return undefined;
}
