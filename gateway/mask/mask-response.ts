/**
 * Response masking for non-streaming bodies: text blocks and tool inputs of a Message are
 * masked for the policy's response types (this is what the audit record keeps), then, when the
 * policy asks, placeholders from the prompt are restored in the copy the caller receives.
 */
import type { MaskPlan } from './mask-plan.ts';
import { maskText } from './mask-text.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Applies `edit` to every string of a Message's text blocks and tool inputs. Returns a new body,
 * or `body` itself when no string changed, so callers can keep (and send) the original bytes.
 */
export function mapStrings(body: unknown, edit: (text: string, path: string) => string): unknown {
  if (!isObj(body) || !Array.isArray(body.content)) return body;
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
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, `${path}.${k}`, depth + 1)]));
    return v;
  };
  const content = body.content.map((block: unknown, i) => {
    if (!isObj(block)) return block;
    if (block.type === 'text' && typeof block.text === 'string') return { ...block, text: editAt(block.text, `content[${i}].text`) };
    if (block.input !== undefined && typeof block.type === 'string' && block.type.endsWith('tool_use')) return { ...block, input: walk(block.input, `content[${i}].input`, 0) };
    return block;
  });
  return changed ? { ...body, content } : body;
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
  let entitiesLeft = plan.responseTypes.size === 0;
  const masked = plan.responseTypes.size === 0 ? body : mapStrings(body, (text, path) => {
    const matches = plan.kit.detector.scan(text);
    if (matches.length === 0) return text;
    if (matches.some((m) => !plan.responseTypes.has(m.type))) entitiesLeft = true;
    const result = maskText(text, matches, plan.responseTypes, plan.replacer);
    plan.ledger.add(`response.${path}`, result.counts);
    return result.text;
  });
  const client = plan.restore ? mapStrings(masked, (text) => plan.replacer.restore(text)) : masked;
  return { masked, client, entitiesLeft };
}
