/**
 * Response masking for non-streaming bodies: every string of a Message's content the caller
 * receives is masked for the policy's response types (this is what the audit record keeps):
 * text and its citations, thinking, tool inputs, server tool results (fetched pages, search
 * results, code output) and blocks of types unknown here. Identifiers and the opaque blobs the
 * API wants back byte for byte (signatures, encrypted results, base64 documents) are left alone.
 * Then, when the policy asks, placeholders from the prompt are restored in the copy the caller
 * receives, except in thinking: it is signed, and the API refuses a changed block sent back in
 * the next turn, so it is changed only when it holds an entity the policy masks. The audit
 * redacts every string of the body, opaque ones included.
 */
import type { MaskPlan } from './mask-plan.ts';
import { maskText } from './mask-text.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Which strings a mapping visits: 'masked', what response masking edits (every visible string:
 * see opaqueAt); 'restored', where placeholders are restored (the same without thinking); 'all',
 * every string of the body (the audit's redaction).
 */
export type StringScope = 'masked' | 'restored' | 'all';

/**
 * Keys whose strings masking never edits: types and identifiers the API and SDKs match on, and
 * blobs that must come back unchanged in a later turn (a changed signature or encrypted index is
 * refused) or that are not text at all.
 */
const OPAQUE_KEYS = new Set([
  'type',
  'id',
  'tool_use_id',
  'tool_id',
  'tool_name',
  'file_id',
  'media_type',
  'error_code',
  'signature',
  'encrypted_content',
  'encrypted_index',
  'encrypted_stdout',
]);

/** Whether `holder[key]` is opaque: an OPAQUE_KEYS key, or the data of a base64 source or of redacted thinking. */
function opaqueAt(holder: Obj, key: string): boolean {
  return OPAQUE_KEYS.has(key) || (key === 'data' && (holder.type === 'base64' || holder.type === 'redacted_thinking'));
}

/** Nesting past this is left as is: no Message nests that deep, and the walk must stay bounded. */
const MAX_DEPTH = 64;

type Edit = (text: string, path: string) => string;

/** Every string of `v`, opaque ones included (`visibleOnly` false) or skipped (true), through `edit`. */
function walk(v: unknown, edit: Edit, path: string, depth: number, visibleOnly: boolean): unknown {
  if (typeof v === 'string') return edit(v, path);
  if (depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x, i) => walk(x, edit, `${path}[${i}]`, depth + 1, visibleOnly));
  if (!isObj(v)) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      visibleOnly && typeof x === 'string' && opaqueAt(v, k)
        ? x
        : walk(x, edit, path === '' ? k : `${path}.${k}`, depth + 1, visibleOnly),
    ]),
  );
}

/**
 * One content block with `edit` applied to the strings `scope` ('masked' or 'restored') names:
 * a tool call's whole input (the model wrote all of it), thinking only when masking, nothing of
 * redacted thinking, and every visible string of anything else. Also used by the stream masker
 * for blocks that arrive whole in content_block_start, and for citations_delta citations.
 */
export function mapBlockStrings(block: unknown, edit: Edit, scope: Exclude<StringScope, 'all'>, path: string): unknown {
  if (!isObj(block)) return block;
  if (block.type === 'thinking')
    return scope === 'masked' && typeof block.thinking === 'string'
      ? { ...block, thinking: edit(block.thinking, `${path}.thinking`) }
      : block;
  if (block.type === 'redacted_thinking') return block;
  if (typeof block.type === 'string' && block.type.endsWith('tool_use') && block.input !== undefined)
    return { ...block, input: walk(block.input, edit, `${path}.input`, 0, false) };
  return walk(block, edit, path, 0, true);
}

/** A citation (of a text block or a citations_delta) with `edit` applied to its visible strings. */
export function mapCitationStrings(citation: unknown, edit: Edit, path: string): unknown {
  return walk(citation, edit, path, 0, true);
}

/**
 * Applies `edit` to the strings of a Message that `scope` names. Returns a new body, or `body`
 * itself when no string changed, so callers can keep (and send) the original bytes.
 */
export function mapStrings(body: unknown, edit: Edit, scope: StringScope): unknown {
  if (scope !== 'all' && (!isObj(body) || !Array.isArray(body.content))) return body;
  let changed = false;
  const editAt: Edit = (text, path) => {
    const edited = edit(text, path);
    if (edited !== text) changed = true;
    return edited;
  };
  if (scope === 'all') {
    const all = walk(body, editAt, '', 0, false);
    return changed ? all : body;
  }
  const content = (body as Obj & { content: unknown[] }).content.map((block, i) =>
    mapBlockStrings(block, editAt, scope, `content[${i}]`),
  );
  return changed ? { ...(body as Obj), content } : body;
}

/**
 * Response masking for whole strings: each is scanned and the policy's response types masked,
 * counted in the ledger under `response.<path>`. `onUnmasked` hears of entities of other types
 * (they stay, and the audit must redact them).
 */
export function responseStringMasker(plan: MaskPlan, onUnmasked: () => void = () => undefined): Edit {
  return (text, path) => {
    const matches = plan.kit.detector.scan(text);
    if (matches.length === 0) return text;
    if (matches.some((m) => !plan.responseTypes.has(m.type))) onUnmasked();
    const result = maskText(text, matches, plan.responseTypes, plan.replacer);
    plan.ledger.add(`response.${path}`, result.counts);
    return result.text;
  };
}

/** Whether `block` has no string masking leaves alone: text without citations, thinking, or a tool call. */
function maskedWhole(block: unknown): boolean {
  if (!isObj(block)) return false;
  if (block.type === 'text')
    return typeof block.text === 'string' && !(Array.isArray(block.citations) && block.citations.length > 0);
  if (block.type === 'thinking') return typeof block.thinking === 'string';
  return typeof block.type === 'string' && block.type.endsWith('tool_use');
}

/**
 * Whether a Message holds strings response masking leaves alone (opaque ones: citations' encrypted indexes, tool result
 * ids, anything unknown).
 */
export function hasUnmaskedStrings(body: unknown): boolean {
  if (!isObj(body) || !Array.isArray(body.content)) return true;
  return !body.content.every(maskedWhole);
}

/** Response masking's outcome. */
export interface MaskedResponse {
  /** The body for the audit record: `body` itself when nothing was masked. */
  readonly masked: unknown;
  /** The body the caller receives (placeholders restored when asked): `body` itself when unchanged. */
  readonly client: unknown;
  /**
   * Whether `masked` may still hold entity values (the audit must redact them); false when every string was scanned and
   * all found were masked.
   */
  readonly entitiesLeft: boolean;
}

/**
 * Masks a Message for the policy's response types, and restores the prompt's placeholders in the caller's copy when
 * asked.
 */
export function maskResponseBody(body: unknown, plan: MaskPlan): MaskedResponse {
  // Opaque strings masking leaves alone may hold anything: the audit then redacts the whole body.
  let entitiesLeft = plan.responseTypes.size === 0 || hasUnmaskedStrings(body);
  const masked =
    plan.responseTypes.size === 0
      ? body
      : mapStrings(
          body,
          responseStringMasker(plan, () => (entitiesLeft = true)),
          'masked',
        );
  const client = plan.restore ? mapStrings(masked, (text) => plan.replacer.restore(text), 'restored') : masked;
  return { masked, client, entitiesLeft };
}
