import type { PolicyInput } from '../policy/input.ts';
import { boundContent, contentText, fieldSlots, sha256Utf8, type ContentSlot } from './content-bound.ts';
import type {
  AuditEventBody,
  ContentDigest,
  ContentMode,
  DecisionEventBody,
  ExchangeRecordBody,
  RecordedInput,
} from './events.ts';

/**
 * A decision as the request path hands it over: the policy input whole. The audit writer erases
 * its prompt (recordedInput) off the request path.
 */
export type DecisionDraft = Omit<DecisionEventBody, 'input' | 'erased'> & { input: PolicyInput | null };

/** What AuditLog.record takes: every event body, a decision still with its input whole. */
export type AuditDraft = Exclude<AuditEventBody, DecisionEventBody> | DecisionDraft;

/** Where a decision event's input had content, replaced by a digest. */
const ERASED_TEXT = '/input/request/text';

/** sha256 and UTF-8 length of a value's content: a string itself, else its compact JSON (as content-bound.ts). */
export function digestOf(value: unknown): ContentDigest {
  const text = contentText(value);
  return { sha256: sha256Utf8(text), length: Buffer.byteLength(text, 'utf8') };
}

/** The decision event's body: the prompt in the input replaced by its digest and findings. */
export function decisionBody(draft: DecisionDraft): DecisionEventBody {
  const { input, ...rest } = draft;
  if (!input) return { ...rest, input: null, erased: [] };
  // Already erased (an event read back and recorded again, e.g. by a migration): as it is.
  if (typeof input.request.text !== 'string')
    return { ...rest, input: input as unknown as RecordedInput, erased: [ERASED_TEXT] };
  const { text, ...request } = input.request;
  const recorded: RecordedInput = {
    ...input,
    request: { ...request, text: { ...digestOf(text), findings: request.findings } },
  };
  return { ...rest, input: recorded, erased: [ERASED_TEXT] };
}

/**
 * Top-level fields kept as they are under `content: digest`: what describes a call without
 * holding what was said (model, limits, ids, usage, state). Everything else — messages, system,
 * tools, content, metadata — becomes a digest: a short `system` prompt can name a person too.
 */
const METADATA_FIELDS = new Set([
  'id',
  'type',
  'role',
  'model',
  'max_tokens',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'service_tier',
  'stop_reason',
  'usage',
  'processing_status',
  'request_counts',
  'created_at',
  'expires_at',
  'ended_at',
  'size_bytes',
  'mime_type',
  'downloadable',
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A body with its content fields replaced by digests (the whole body when it is not an object). */
function digestBody(body: unknown): unknown {
  if (body === null || body === undefined) return body ?? null;
  if (!isPlainObject(body)) return digestOf(body);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body))
    out[key] = METADATA_FIELDS.has(key) && (typeof value !== 'string' || value.length <= 256) ? value : digestOf(value);
  return out;
}

/** An object's top-level fields (the object copied, as the bound replaces fields), or the value itself as one slot. */
function slotsOf(holder: object, key: string): ContentSlot[] {
  const h = holder as Record<string, unknown>;
  const value = h[key];
  if (value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return [{ holder: h, key }];
  h[key] = { ...value };
  return fieldSlots(h[key]);
}

/**
 * The request's and the response body's top-level fields (messages, system, tools; content) within
 * one content budget, copied where cut so the caller's objects stay whole.
 */
function boundedExchange(record: ExchangeRecordBody, budget: number): ExchangeRecordBody {
  const out: ExchangeRecordBody = { ...record, response: record.response && { ...record.response } };
  const slots = [...slotsOf(out, 'request'), ...(out.response ? slotsOf(out.response, 'body') : [])];
  boundContent(slots, budget);
  return out;
}

/**
 * An event as a sink with content setting `mode` receives it. Only the exchange record holds
 * content: masked (within `maxContentBytes`, larger fields cut to a head with the whole's digest),
 * digests of its content fields, or none of it. Other events are the same under every setting.
 */
export function withContent(body: AuditEventBody, mode: ContentMode, maxContentBytes: number): AuditEventBody {
  if (body.kind !== 'exchange') return body;
  if (mode === 'masked') return boundedExchange(body, maxContentBytes);
  const keep = mode === 'digest';
  const response = body.response && { ...body.response, body: keep ? digestBody(body.response.body) : null };
  return { ...body, request: keep ? digestBody(body.request) : null, response };
}
