/**
 * Precision and recall per entity type over the labelled corpus (scripts/gen-entity-corpus.ts):
 * 700 positives across every type and 700 hard negatives (order numbers, UUIDs, timestamps,
 * versions, Luhn-invalid numbers, bad IBAN checksums, SSNs outside the issued ranges).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EntityDetector } from '../../../gateway/inspect/entity-detector.ts';
import { BUILTIN_PATTERNS } from '../../../gateway/inspect/entity-patterns.ts';

interface Example {
  text: string;
  expect: Array<{ type: string; value: string }>;
}

const corpus = readFileSync(new URL('../../fixtures/entities/corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Example);

function score(): Map<string, { tp: number; fp: number; fn: number }> {
  const detector = new EntityDetector();
  const stats = new Map(BUILTIN_PATTERNS.map((p) => [p.type, { tp: 0, fp: 0, fn: 0 }]));
  for (const ex of corpus) {
    const found = detector.scan(ex.text).map((m) => ({ type: m.type, value: ex.text.slice(m.start, m.end) }));
    for (const want of ex.expect) {
      const hit = found.findIndex((f) => f.type === want.type && f.value === want.value);
      if (hit >= 0) {
        stats.get(want.type)!.tp++;
        found.splice(hit, 1);
      } else stats.get(want.type)!.fn++;
    }
    for (const extra of found) stats.get(extra.type)!.fp++;
  }
  return stats;
}

describe('entity corpus', () => {
  it('has at least 500 positives and 500 hard negatives', () => {
    expect(corpus.filter((e) => e.expect.length > 0).length).toBeGreaterThanOrEqual(500);
    expect(corpus.filter((e) => e.expect.length === 0).length).toBeGreaterThanOrEqual(500);
  });

  it('meets precision 0.98 and recall 0.99 for every structured type', () => {
    const stats = score();
    const rows = [...stats].map(([type, s]) => ({
      type,
      precision: s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp),
      recall: s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn),
      ...s,
    }));
    console.log(
      rows
        .map(
          (r) =>
            `${r.type.padEnd(18)} P=${r.precision.toFixed(3)} R=${r.recall.toFixed(3)} ` +
            `tp=${r.tp} fp=${r.fp} fn=${r.fn}`,
        )
        .join('\n'),
    );
    for (const r of rows) {
      expect(r.tp, `${r.type} has positives`).toBeGreaterThan(0);
      const structured = BUILTIN_PATTERNS.find((p) => p.type === r.type)!.structured;
      const floor = structured ? { p: 0.98, r: 0.99 } : { p: 0.9, r: 0.9 };
      expect(r.precision, `${r.type} precision`).toBeGreaterThanOrEqual(floor.p);
      expect(r.recall, `${r.type} recall`).toBeGreaterThanOrEqual(floor.r);
    }
  });
});
