/**
 * A Message Batch body (`{"requests": [{"custom_id", "params"}]}`): the envelope is checked here
 * and each request's params are inspected exactly as a `messages.create` body is, so a batch can
 * carry nothing a single call could not.
 */
import { SluiceError } from '../errors.ts';
import type { RequestFacts } from './facts.ts';
import { inspectMessagesRequest } from './messages-request.ts';
import type { UnknownBlocks } from './request-schema.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The API's pattern for a custom_id: it is also a key of the results and of the audit. */
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** The API accepts up to 100 000 requests in one batch. */
export const MAX_BATCH_REQUESTS = 100_000;

/** One request of a batch: its id, its params (the body a messages.create would carry) and their facts. */
export interface BatchItem {
  readonly index: number;
  readonly customId: string;
  /** The parsed params object, inside the batch body: masking rewrites it in place. */
  readonly params: Obj;
  /** The facts of `params` as a `messages.create` (the policy decides each request on these). */
  readonly facts: RequestFacts;
}

const bad = (message: string): SluiceError => new SluiceError('SLUICE_ERR_BAD_REQUEST', message);

/**
 * Checks a batch body and inspects each request as `messages.create`. Refused (400): anything
 * but `requests` at the top or anything but `custom_id` and `params` in a request (what is not
 * understood is not forwarded), a bad or repeated custom_id, and a request asking to stream.
 */
export function inspectBatchRequests(body: unknown, betas: string[], unknownBlocks: UnknownBlocks): BatchItem[] {
  if (!isObj(body)) throw bad('body: expected a JSON object');
  const extra = Object.keys(body).find((k) => k !== 'requests');
  if (extra !== undefined) throw bad(`${JSON.stringify(extra.slice(0, 64))}: unknown field of a message batch`);
  const { requests } = body;
  if (!Array.isArray(requests) || requests.length === 0) throw bad('requests: expected a non-empty list');
  if (requests.length > MAX_BATCH_REQUESTS) throw bad(`requests: at most ${MAX_BATCH_REQUESTS} requests per batch`);
  const seen = new Set<string>();
  return requests.map((request: unknown, index): BatchItem => {
    const at = `requests[${index}]`;
    if (!isObj(request)) throw bad(`${at}: expected an object with custom_id and params`);
    const extraKey = Object.keys(request).find((k) => k !== 'custom_id' && k !== 'params');
    if (extraKey !== undefined) throw bad(`${at}.${extraKey.slice(0, 64)}: unknown field of a batch request`);
    const customId = request.custom_id;
    if (typeof customId !== 'string' || !CUSTOM_ID.test(customId))
      throw bad(`${at}.custom_id: expected 1 to 64 characters of a-z, A-Z, 0-9, _ and -`);
    if (seen.has(customId)) throw bad(`${at}.custom_id: "${customId}" appears more than once`);
    seen.add(customId);
    const params = request.params;
    if (!isObj(params)) throw bad(`${at}.params: expected a Messages request object`);
    if (params.stream === true) throw bad(`${at}.params.stream: a batch request cannot stream`);
    let facts: RequestFacts;
    try {
      facts = inspectMessagesRequest('messages.create', params, betas, unknownBlocks);
    } catch (err) {
      // The inner request's own message, placed: `requests[3].params.messages.0.content: …`.
      if (err instanceof SluiceError) throw new SluiceError(err.code, `${at}.params.${err.message}`);
      throw err;
    }
    return { index, customId, params, facts };
  });
}
