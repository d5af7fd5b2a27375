/**
 * Decision events read back from a JSONL audit file with their prompt: what `policy impact` and
 * `policy eval` replay. A schema-1 decision carried its input's prompt text; a schema-2 decision
 * carries only its digest (the exchange record is the one event with content), so the text is
 * rebuilt from the masked request in the call's exchange record, as the gateway derived it.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { inspectMessagesRequest } from '../inspect/messages-request.ts';
import type { Operation } from '../operations/operation-table.ts';
import type { PolicyInput } from '../policy/input.ts';

/** A decision event as read: only the fields the replay reads are trusted to exist. */
export interface RecordedDecision {
  kind?: unknown;
  decision_id?: unknown;
  batch_decision_id?: unknown;
  custom_id?: unknown;
  timestamp?: unknown;
  subject?: unknown;
  input?: unknown;
  result?: unknown;
  bundles?: { sluice?: { revision?: unknown } };
}

/** A decision with its input whole again (prompt text restored), or null input for a refusal before one. */
export interface ReplayableDecision {
  readonly event: RecordedDecision;
  readonly input: PolicyInput | null;
}

interface ExchangeRecord {
  kind?: unknown;
  decision_id?: unknown;
  request?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The prompt text the gateway derived from a Messages body; '' when the body is not one (or was not kept). */
function promptText(operation: string, body: unknown, betas: string[]): string {
  try {
    return inspectMessagesRequest(operation as Operation, body, betas, 'scan').text;
  } catch {
    return ''; // digest or none content, a truncated body, another operation: nothing to rebuild from
  }
}

/** The recorded input with its text: as recorded (schema 1), or rebuilt from the exchange's request (schema 2). */
function withText(decision: RecordedDecision, request: unknown): PolicyInput | null {
  if (!isObject(decision.input)) return null;
  const input = decision.input as unknown as PolicyInput & { request: { text: unknown } };
  if (typeof input.request?.text === 'string') return input;
  let body = request;
  // A batch request's prompt is in its params, in the batch call's record.
  if (typeof decision.custom_id === 'string' && isObject(request) && Array.isArray(request.requests)) {
    const item = (request.requests as unknown[]).find((r) => isObject(r) && r.custom_id === decision.custom_id);
    body = isObject(item) ? item.params : undefined;
  }
  const text = body === undefined ? '' : promptText(input.request.operation, body, [...(input.request.betas ?? [])]);
  return { ...input, request: { ...input.request, text } };
}

/**
 * Every decision event of `auditFile` in order of its exchange record (a schema-2 decision waits
 * for the record of its call, which follows it), with its input whole. Lines that are not JSON
 * are counted in `unreadable`.
 */
export async function* recordedDecisions(
  auditFile: string,
  counts: { unreadable: number } = { unreadable: 0 },
): AsyncGenerator<ReplayableDecision> {
  const waiting = new Map<string, RecordedDecision[]>();
  const lines = createInterface({ input: createReadStream(auditFile, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let event: RecordedDecision & ExchangeRecord;
    try {
      event = JSON.parse(line) as RecordedDecision & ExchangeRecord;
    } catch {
      counts.unreadable++;
      continue;
    }
    if (event.kind === 'decision') {
      const text = isObject(event.input) && isObject(event.input.request) ? event.input.request.text : undefined;
      if (typeof text === 'string' || !isObject(event.input)) {
        yield { event, input: withText(event, undefined) };
        continue;
      }
      const callId = String(event.batch_decision_id ?? event.decision_id);
      (waiting.get(callId) ?? waiting.set(callId, []).get(callId)!).push(event);
    } else if ((event.kind === 'exchange' || event.kind === 'session') && typeof event.decision_id === 'string') {
      const decisions = waiting.get(event.decision_id);
      if (!decisions) continue;
      waiting.delete(event.decision_id);
      for (const d of decisions) yield { event: d, input: withText(d, event.request) };
    }
  }
  // Calls whose record never came (in flight at a crash): replayed without their prompt.
  for (const decisions of waiting.values())
    for (const d of decisions) yield { event: d, input: withText(d, undefined) };
}
