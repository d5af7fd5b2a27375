/**
 * Response masking for non-streaming bodies: text blocks, tool inputs and thinking of a Message
 * are masked for the policy's response types (this is what the audit record keeps), then, when
 * the policy asks, placeholders from the prompt are restored in the copy the caller receives,
 * except in thinking: it is signed, and the API refuses a changed block sent back in the next
 * turn, so it is changed only when it holds an entity the policy masks. Citations and server
 * tool results are not masked; the audit redacts every string of the body.
 */
import type { MaskPlan } from './mask-plan.ts';
import { maskText } from './mask-text.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Which strings a mapping visits: 'masked', what response masking edits (text blocks, tool
 * inputs, thinking); 'restored', where placeholders are restored (the same without thinking);
 * 'all', every string of the body (the audit's redaction).
 */
export type StringScope = 'masked' | 'restored' | 'all';

/** Whether response masking visits all of `block`: text without citations, a tool call's input, or thinking. */
function maskedWhole(block: unknown): boolean {
  if (!isObj(block)) return false;
  if (block.type === 'text') return typeof block.text === 'string' && !(Array.isArray(block.citations) && block.citations.length > 0);
  if (block.type === 'thinking') return typeof block.thinking === 'string';
  return typeof block.type === 'string' && block.type.endsWith('tool_use');
}

/**
 * Applies `edit` to the strings of a Message that `scope` names. Returns a new body, or `body`
 * itself when no string changed, so callers can keep (and send) the original bytes.
 */
export function mapStrings(body: unknown, edit: (text: string, path: string) => string, scope: StringScope): unknown {
  if (scope !== 'all' && (!isObj(body) || !Array.isArray(body.content))) return body;
  let changed = false;
  const editAt = (text: string, path: string): string => {
    const edited = edit(text, path);
    if (edited !== text) changed = true;
    return edited;
  };
  const walk = (v: unknown, path: string, depth: number): unknown => {
    if (typeof v === 'string') return editAt(v, path);
    if (depth > 64) return v;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`, depth + 1));
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, path === '' ? k : `${path}.${k}`, depth + 1)]));
    return v;
  };
  if (scope === 'all') {
    const all = walk(body, '', 0);
    return changed ? all : body;
  }
  const content = (body as Obj & { content: unknown[] }).content.map((block: unknown, i) => {
    if (!isObj(block)) return block;
    if (block.type === 'text' && typeof block.text === 'string') return { ...block, text: editAt(block.text, `content[${i}].text`) };
    if (block.type === 'thinking' && typeof block.thinking === 'string' && scope === 'masked') return { ...block, thinking: editAt(block.thinking, `content[${i}].thinking`) };
    if (block.input !== undefined && typeof block.type === 'string' && block.type.endsWith('tool_use')) return { ...block, input: walk(block.input, `content[${i}].input`, 0) };
    return block;
  });
  return changed ? { ...(body as Obj), content } : body;
}

/** Whether a Message holds strings response masking does not visit (citations, server tool results, anything unknown). */
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
  /** Whether `masked` may still hold entity values (the audit must redact them); false when every string was scanned and all found were masked. */
  readonly entitiesLeft: boolean;
}

/** Masks a Message for the policy's response types, and restores the prompt's placeholders in the caller's copy when asked. */
export function maskResponseBody(body: unknown, plan: MaskPlan): MaskedResponse {
  // Strings masking does not visit may hold anything: the audit then redacts the whole body.
  let entitiesLeft = plan.responseTypes.size === 0 || hasUnmaskedStrings(body);
  const masked = plan.responseTypes.size === 0 ? body : mapStrings(body, (text, path) => {
    const matches = plan.kit.detector.scan(text);
    if (matches.length === 0) return text;
    if (matches.some((m) => !plan.responseTypes.has(m.type))) entitiesLeft = true;
    const result = maskText(text, matches, plan.responseTypes, plan.replacer);
    plan.ledger.add(`response.${path}`, result.counts);
    return result.text;
  }, 'masked');
  const client = plan.restore ? mapStrings(masked, (text) => plan.replacer.restore(text), 'restored') : masked;
  return { masked, client, entitiesLeft };
}
