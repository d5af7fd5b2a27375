/**
 * Finds entities in every text-bearing place of a Messages API request: `system` (string or
 * blocks), message content strings and text blocks, tool_result content, tool_use inputs and
 * document text. One detector pass per string; the places are kept so the masking stage can
 * rewrite exactly those strings without scanning again.
 */
import { SluiceError } from '../errors.ts';
import type { EntityDetector, EntityMatch } from './entity-detector.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string in the request that carries entities, where it lives, and what was found in it. */
export interface TextPlace {
  /** JSON path for the audit record, e.g. `messages[0].content[1].text`. */
  readonly path: string;
  readonly holder: Obj | unknown[];
  readonly key: string | number;
  readonly matches: readonly EntityMatch[];
}

/** One finding for policy and audit: type, count and JSON path, never the value. */
export interface FindingDetail {
  readonly type: string;
  readonly count: number;
  readonly path: string;
}

/** What the detector found in a request. */
export interface RequestScan {
  /** Only the places with at least one match. */
  readonly places: readonly TextPlace[];
  /** Matches per type over the whole request: `input.request.findings`. */
  readonly findings: Readonly<Record<string, number>>;
  readonly details: readonly FindingDetail[];
}

const MAX_DEPTH = 64;
const key = (k: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);

class Walker {
  readonly places: TextPlace[] = [];
  constructor(private readonly detector: EntityDetector) {}

  text(holder: Obj | unknown[], k: string | number, path: string): void {
    const value = (holder as Record<string | number, unknown>)[k];
    if (typeof value !== 'string' || value.length === 0) return;
    const matches = this.detector.scan(value);
    if (matches.length > 0) this.places.push({ path, holder, key: k, matches });
  }

  /** A content value: a string or a list of blocks. */
  content(holder: Obj | unknown[], k: string | number, path: string, depth: number): void {
    if (depth > MAX_DEPTH) throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `${path}: nested deeper than ${MAX_DEPTH} levels`);
    const value = (holder as Record<string | number, unknown>)[k];
    if (typeof value === 'string') return this.text(holder, k, path);
    if (!Array.isArray(value)) return;
    value.forEach((block, i) => {
      if (isObj(block)) this.block(block, `${path}[${i}]`, depth + 1);
    });
  }

  private block(block: Obj, path: string, depth: number): void {
    switch (block.type) {
      case 'text':
        return this.text(block, 'text', `${path}.text`);
      case 'tool_result':
        return this.content(block, 'content', `${path}.content`, depth);
      case 'tool_use':
      case 'server_tool_use':
        return this.json(block, 'input', `${path}.input`, depth);
      case 'document': {
        for (const f of ['title', 'context']) this.text(block, f, `${path}.${f}`);
        const source = block.source;
        if (!isObj(source)) return;
        if (source.type === 'text') this.text(source, 'data', `${path}.source.data`);
        else if (source.type === 'content') this.content(source, 'content', `${path}.source.content`, depth);
        return;
      }
      default:
        return; // images, files, thinking (signed: changing it would break the signature)
    }
  }

  /** Every string value inside a tool input (keys are the tool's schema, not data). */
  private json(holder: Obj | unknown[], k: string | number, path: string, depth: number): void {
    if (depth > MAX_DEPTH) throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `${path}: nested deeper than ${MAX_DEPTH} levels`);
    const value = (holder as Record<string | number, unknown>)[k];
    if (typeof value === 'string') return this.text(holder, k, path);
    if (Array.isArray(value)) value.forEach((_, i) => this.json(value, i, `${path}[${i}]`, depth + 1));
    else if (isObj(value)) for (const name of Object.keys(value)) this.json(value, name, `${path}${key(name)}`, depth + 1);
  }
}

/** Scans a validated Messages (or count_tokens) body. */
export function scanRequest(body: unknown, detector: EntityDetector): RequestScan {
  if (!isObj(body)) return { places: [], findings: {}, details: [] };
  const walker = new Walker(detector);
  walker.content(body, 'system', 'system', 0);
  if (Array.isArray(body.messages)) {
    body.messages.forEach((m, i) => {
      if (isObj(m)) walker.content(m, 'content', `messages[${i}].content`, 0);
    });
  }
  const findings: Record<string, number> = {};
  const details: FindingDetail[] = [];
  for (const place of walker.places) {
    const perType = new Map<string, number>();
    for (const m of place.matches) perType.set(m.type, (perType.get(m.type) ?? 0) + 1);
    for (const [type, count] of perType) {
      findings[type] = (findings[type] ?? 0) + count;
      details.push({ type, count, path: place.path });
    }
  }
  return { places: walker.places, findings, details };
}
