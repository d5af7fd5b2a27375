/**
 * Finds entities in every string a model reads in a Messages API request, as request-schema.ts
 * describes them (the walk the policy's text comes from). One detector pass per string; the
 * places are kept so the masking stage can rewrite exactly those strings without scanning again.
 */
import type { EntityMatch } from './combined-scan.ts';
import type { EntityDetector } from './entity-detector.ts';
import { walkRequest } from './request-schema.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string in the request that carries entities, where it lives, and what was found in it. */
export interface TextPlace {
  /** JSON path for the audit record, e.g. `messages[0].content[1].text`. */
  readonly path: string;
  readonly holder: Obj | unknown[];
  readonly key: string | number;
  /** The string is the object key `key` itself (a tool input's property name): masking renames the key. */
  readonly isKey: boolean;
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

/** A path with every entity in it (a raw JSON key on the way) replaced by its type, for the audit. */
function safePath(path: string, detector: EntityDetector): string {
  let out = '';
  let at = 0;
  for (const m of detector.scan(path)) {
    out += `${path.slice(at, m.start)}[${m.type}]`;
    at = m.end;
  }
  return out + path.slice(at);
}

/**
 * Scans a validated Messages (or count_tokens) body. An unknown block type is scanned whole:
 * with `inspect.unknownBlocks: refuse` the inspect stage has refused such a body already.
 */
export function scanRequest(body: unknown, detector: EntityDetector): RequestScan {
  if (!isObj(body)) return { places: [], findings: {}, details: [] };
  const places: TextPlace[] = [];
  for (const s of walkRequest(body, 'scan').strings) {
    const matches = detector.scan(s.value);
    if (matches.length === 0) continue;
    places.push({ path: safePath(s.path, detector), holder: s.holder, key: s.key, isKey: s.isKey, matches });
  }
  const findings: Record<string, number> = {};
  const details: FindingDetail[] = [];
  for (const place of places) {
    const perType = new Map<string, number>();
    for (const m of place.matches) perType.set(m.type, (perType.get(m.type) ?? 0) + 1);
    for (const [type, count] of perType) {
      findings[type] = (findings[type] ?? 0) + count;
      details.push({ type, count, path: place.path });
    }
  }
  return { places, findings, details };
}
