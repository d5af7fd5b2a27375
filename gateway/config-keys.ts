/**
 * Unknown config keys: zod strips keys a schema does not declare, so a typo (`identity.isuer`)
 * or a key of a feature this version lacks would be ignored and Sluice would start on defaults.
 * This walks the raw config beside the schema and names each key the schema does not know,
 * with the nearest known key at the same place. Any key declared in the schema is known, so a
 * new key needs nothing but its declaration.
 */
import type { z } from 'zod';

interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly in?: z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object and array schemas a value may be checked against, past optional/default/union wrappers. */
function shapesOf(schema: z.ZodType): { objects: Record<string, z.ZodType>[]; elements: z.ZodType[] } {
  const def = defOf(schema);
  if (def.type === 'object') return { objects: [def.shape!], elements: [] };
  if (def.type === 'array') return { objects: [], elements: [def.element!] };
  const inner = def.innerType ?? def.in;
  if (inner) return shapesOf(inner);
  if (def.type === 'union' && def.options) {
    const parts = def.options.map(shapesOf);
    return { objects: parts.flatMap((p) => p.objects), elements: parts.flatMap((p) => p.elements) };
  }
  return { objects: [], elements: [] };
}

/** Damerau-Levenshtein (optimal string alignment) distance; small inputs, so the plain table is fine. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key`, when it is close enough to be a likely typo or a plural/singular slip. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = candidate.startsWith(key) || key.startsWith(candidate) ? Math.abs(candidate.length - key.length) : distance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Every key of `raw` the schema does not declare, as `dotted.path: message` problems. */
export function unknownKeys(schema: z.ZodType, raw: unknown, path: string[] = []): string[] {
  if (raw === null || typeof raw !== 'object') return [];
  const { objects, elements } = shapesOf(schema);
  if (Array.isArray(raw)) {
    if (elements.length === 0) return [];
    return raw.flatMap((item, i) => unknownKeys(elements[0]!, item, [...path, String(i)]));
  }
  if (objects.length === 0) return [];
  const known = [...new Set(objects.flatMap((shape) => Object.keys(shape)))];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const owner = objects.find((shape) => key in shape);
    const here = [...path, key].join('.');
    if (owner) {
      problems.push(...unknownKeys(owner[key]!, value, [...path, key]));
      continue;
    }
    const near = nearestKey(key, known);
    const hint = near ? `did you mean ${[...path, near].join('.')}?` : `known keys here: ${known.join(', ')}`;
    problems.push(`${here}: unknown key (${hint})`);
  }
  return problems;
}
