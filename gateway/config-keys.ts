/**
 * Unknown config keys: zod strips keys a schema does not declare, so a typo (`identity.isuer`)
 * or a key of a feature this version lacks would be ignored and Sluice would start on defaults.
 * This walks the raw config beside the schema and names each key the schema does not know,
 * with the nearest known key at the same place. Any key declared in the schema is known, so a
 * new key needs nothing but its declaration in a plain `z.object({...})` of config.ts (with
 * .optional/.default/.prefault, in z.array or z.union as needed) and its README row; a part this
 * walk cannot look into (z.record, z.lazy, z.intersection) fails test/unit/config.test.ts.
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

/** Node types the walk below looks through to the schema inside. */
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch', 'pipe']);
/** Node types whose values hold no keys. */
const LEAVES = new Set([
  'unknown',
  'string',
  'number',
  'int',
  'boolean',
  'bigint',
  'enum',
  'literal',
  'null',
  'undefined',
]);

/**
 * Dotted schema paths of nodes the walk cannot look into (z.record, z.intersection, z.lazy, …):
 * keys below them would go unchecked, so a test requires this to be empty for the config schema.
 */
export function uncheckedNodes(schema: z.ZodType, path: string[] = []): string[] {
  const def = defOf(schema);
  if (def.type === 'object') {
    return Object.entries(def.shape!).flatMap(([key, child]) => uncheckedNodes(child, [...path, key]));
  }
  if (def.type === 'array') return uncheckedNodes(def.element!, [...path, '*']);
  if (def.type === 'union') return def.options!.flatMap((option) => uncheckedNodes(option, path));
  if (WRAPPERS.has(def.type)) return uncheckedNodes((def.innerType ?? def.in)!, path);
  return LEAVES.has(def.type) ? [] : [`${path.join('.') || '(root)'} (${def.type})`];
}

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

/** Every leaf key the schema declares, dotted, `[]` for the items of a list of objects (README documents each). */
export function keyPaths(schema: z.ZodType, path = ''): string[] {
  const { objects, elements } = shapesOf(schema);
  const child = (key: string): string => (path ? `${path}.${key}` : key);
  const below = [
    ...objects.flatMap((shape) => Object.entries(shape).flatMap(([key, value]) => keyPaths(value, child(key)))),
    ...elements.filter((item) => shapesOf(item).objects.length > 0).flatMap((item) => keyPaths(item, `${path}[]`)),
  ];
  return below.length > 0 ? [...new Set(below)] : [path];
}

/**
 * Damerau-Levenshtein (optimal string alignment) distance, case-insensitive. Hand-written: no
 * installed dependency provides it, and for keys of a few dozen characters the plain table is enough.
 */
function distance(left: string, right: string): number {
  const [a, b] = [left.toLowerCase(), right.toLowerCase()];
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key`, when it is close enough to be a likely typo or a plural/singular slip. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d =
      candidate.startsWith(key) || key.startsWith(candidate)
        ? Math.abs(candidate.length - key.length)
        : distance(key, candidate);
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
    // Own keys only: `constructor`, `toString` or `__proto__` are not config keys because every object inherits them.
    const owner = objects.find((shape) => Object.hasOwn(shape, key));
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
