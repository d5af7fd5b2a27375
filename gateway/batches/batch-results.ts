/**
 * A Message Batch's results (JSONL) on their way to the caller: read line by line (each line at
 * most `responseBytes`), each succeeded result's message (and each errored result's error text)
 * masked as that custom_id's decision said (the same response masking a JSON message gets),
 * written under the caller's backpressure.
 * A line that is not a result, or a custom_id the batch never had, never reaches the caller as
 * it came: an unreadable line ends the answer (the connection is cut, so no client mistakes it
 * for complete), an unknown custom_id has every entity of its result replaced by its type.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { SluiceError } from '../errors.ts';
import type { DetectorKit } from '../inspect/detector-kit.ts';
import { redactFindings } from '../inspect/redact-findings.ts';
import type { MaskLedger } from '../mask/mask-ledger.ts';
import { MaskPlan } from '../mask/mask-plan.ts';
import { mapStrings, maskResponseBody, responseStringMasker } from '../mask/mask-response.ts';
import type { PlaceholderNumbering } from '../mask/placeholder-numbering.ts';
import type { Relayed } from '../relay/relayed.ts';
import { upstreamError } from '../upstream/forward.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import type { BatchRequestRecord } from './batch-store.ts';
import { LineSplitter, LineTooLong } from './line-splitter.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What masking a batch's results needs. */
export interface ResultsContext {
  readonly connection: string;
  /** The batch's requests by custom_id, as recorded when it was created. */
  readonly requests: ReadonlyMap<string, BatchRequestRecord>;
  /** The detector of the bundle in force now. */
  readonly kit: DetectorKit;
  readonly hashKey: Buffer;
  readonly numbering: PlaceholderNumbering;
  /** The call's ledger: masks applied, counted per type under `response.results.message`. */
  readonly ledger: MaskLedger;
  /** The longest line relayed (config `limits.responseBytes`: one result holds one message). */
  readonly maxLineBytes: number;
  readonly mark: (stage: string) => void;
  /** Told each succeeded result of a known request with its message's `usage`, to settle its budgets. */
  readonly onUsage?: (record: BatchRequestRecord, usage: unknown) => void;
  /**
   * Called with what the caller got before the results end (audit durability `strict`: the call
   * is recorded and its record written); when it throws, the results are cut off instead.
   */
  readonly beforeEnd?: (relayed: Relayed) => Promise<void>;
}

const LEDGER_PATH = 'response.results.message';
const ERROR_PATH = 'response.results.error';

/** One result line as the caller gets it, its result type counted. */
function maskLine(line: Buffer, ctx: ResultsContext, counts: Record<string, number>): string | undefined {
  const text = line.toString('utf8');
  if (text.trim() === '') return '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(value) || typeof value.custom_id !== 'string' || !isObj(value.result)) return undefined;
  const result = value.result;
  const type = typeof result.type === 'string' ? result.type : 'unknown';
  counts[type] = (counts[type] ?? 0) + 1;
  const record = ctx.requests.get(value.custom_id);
  if (!record) {
    // Not a request Sluice decided: no masking rules of its own, so every entity is removed.
    const cleared = mapStrings(result, (s) => redactFindings(s, { kit: ctx.kit }), 'all');
    return cleared === result ? text : JSON.stringify({ ...value, result: cleared });
  }
  if (type === 'succeeded' && isObj(result.message)) ctx.onUsage?.(record, result.message.usage);
  if (record.responseMask.response.length === 0) return text;
  const { response, style } = record.responseMask;
  // restore is off: the prompt's values are not kept after the call that created the batch.
  const plan = new MaskPlan(ctx.kit, { request: [], response, style, restore: false }, ctx.hashKey, ctx.numbering);
  if (type === 'errored') {
    // An error's message may quote the request (a value the policy masks in answers): masked like an answer's text.
    const error = mapStrings(result.error, responseStringMasker(plan), 'all');
    for (const entry of plan.ledger.entries()) ctx.ledger.add(ERROR_PATH, new Map([[entry.type, entry.count]]));
    return error === result.error ? text : JSON.stringify({ ...value, result: { ...result, error } });
  }
  if (type !== 'succeeded' || !isObj(result.message)) return text;
  const masked = maskResponseBody(result.message, plan);
  for (const entry of plan.ledger.entries()) ctx.ledger.add(LEDGER_PATH, new Map([[entry.type, entry.count]]));
  if (masked.client === result.message) return text;
  return JSON.stringify({ ...value, result: { ...result, message: masked.client } });
}

/** Waits until the caller can take more (or is gone). */
async function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return;
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

/**
 * Relays a successful JSONL results answer line by line. Returns what the exchange record
 * keeps: the count of each result type, never a result's content.
 */
export async function relayBatchResults(
  upstream: Dispatcher.ResponseData,
  res: ServerResponse,
  ctx: ResultsContext,
): Promise<Relayed> {
  res.writeHead(upstream.statusCode, {
    ...callerResponseHeaders(upstream.headers),
    'content-type': 'application/x-jsonl',
  });
  const splitter = new LineSplitter(ctx.maxLineBytes);
  const counts: Record<string, number> = {};
  let failure: SluiceError | undefined;
  let first = true;
  const relayLine = async (line: Buffer): Promise<boolean> => {
    const out = maskLine(line, ctx, counts);
    if (out === undefined) {
      failure = new SluiceError(
        'SLUICE_ERR_UPSTREAM_BAD_RESPONSE',
        `upstream "${ctx.connection}" sent a batch results line that is not a result; results cut`,
      );
      return false;
    }
    if (out !== '' && !res.destroyed && !res.write(`${out}\n`)) await drained(res);
    return true;
  };
  try {
    outer: for await (const chunk of upstream.body) {
      if (first) ctx.mark('first_byte');
      first = false;
      for (const line of splitter.push(chunk as Buffer)) if (!(await relayLine(line))) break outer;
      if (res.destroyed) break;
    }
    const last = failure || res.destroyed ? undefined : splitter.end();
    if (last) await relayLine(last);
  } catch (err) {
    failure =
      err instanceof LineTooLong
        ? new SluiceError(
            'SLUICE_ERR_UPSTREAM_TOO_LARGE',
            `upstream "${ctx.connection}" batch result line exceeds limits.responseBytes (${ctx.maxLineBytes} bytes)`,
          )
        : upstreamError(err, ctx.connection);
  }
  const gone = !failure && res.destroyed;
  const error = failure
    ? { type: failure.type, message: failure.message, code: failure.code }
    : gone
      ? { type: 'client_closed', message: 'caller disconnected before the results ended' }
      : undefined;
  const relayed: Relayed = {
    response: {
      status: upstream.statusCode,
      stream: true,
      body: { result_counts: counts },
      usage: null,
      ...(error ? { error } : {}),
    },
    responseMayHoldEntities: false,
    ...(failure ? { error: failure } : {}),
  };
  let ends = !failure && !res.destroyed;
  // The results are chunked: the caller has them all only at their end, which beforeEnd holds back.
  if (ends && ctx.beforeEnd)
    ends = await ctx.beforeEnd(relayed).then(
      () => true,
      () => false,
    );
  // Headers are gone: cutting the connection is the only way to tell the caller the results are incomplete.
  if (ends) res.end();
  else res.destroy();
  return relayed;
}
