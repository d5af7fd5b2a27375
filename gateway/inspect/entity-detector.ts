/**
 * Finds entities in text. Each pattern may name trigger characters of which every one of its
 * matches contains one (an '@', a digit); patterns whose triggers are absent from a text cannot
 * match it and are left out of that scan, so prose without digits skips most of the work. The
 * scanner for each set of present patterns is built once and reused.
 */
import { CombinedScan, type EntityMatch } from './combined-scan.ts';

import { BUILTIN_PATTERNS, type EntityPattern } from './entity-patterns.ts';
import { normalizedView, spacingMayHide, type NormalizedView } from './normalized-view.ts';

/** Distinct pattern sets seen at most; each costs one compiled expression. */
const MAX_SCANNERS = 256;

/**
 * An immutable detector for a fixed set of entity patterns (built-ins plus the bundle's custom
 * ones). Built once per policy bundle; `scan` is safe to call from any request.
 */
export class EntityDetector {
  /** Every type this detector can report, in priority order. */
  readonly types: readonly string[];
  /** Distinct trigger character sets (several types share the digits), each tested once per scan. */
  private readonly triggers: readonly string[];
  /** For each pattern, the index of its trigger in `triggers`, or -1 when it has none. */
  private readonly triggerOf: readonly number[];
  private readonly scanners = new Map<string, CombinedScan>();

  /** `prefilter: false` scans with every pattern every time (the reference the prefilter is tested against). */
  constructor(
    readonly patterns: readonly EntityPattern[] = BUILTIN_PATTERNS,
    private readonly options: { readonly prefilter?: boolean } = {},
  ) {
    this.types = patterns.map((p) => p.type);
    const sets = [...new Set(patterns.flatMap((p) => (p.triggerChars === undefined ? [] : [p.triggerChars])))];
    this.triggers = sets;
    this.triggerOf = patterns.map((p) => (p.triggerChars === undefined ? -1 : sets.indexOf(p.triggerChars)));
  }

  /**
   * Every validated entity in `text`, in order, never overlapping. Linear in the text's length.
   * Found in the normalised view (normalized-view.ts: invisible characters dropped, full-width
   * forms, other scripts' digits and look-alike letters folded, every kind of space a space);
   * spans are the original text's, the hidden characters inside them included. Where spacing
   * may hide an entity (no-break spaces, doubled spaces after a digit) the text is read a
   * second time with spaces joined (`jane\u00a0@\u00a0example.org`, `4111  1111  …`), and
   * the two readings merged (mergeFindings).
   */
  scan(text: string): EntityMatch[] {
    const view = normalizedView(text);
    const found = view ? this.scanView(view) : this.scanPlain(text);
    if (!spacingMayHide(text, view)) return found;
    const joined = normalizedView(text, 'joined');
    return joined ? mergeFindings(found, this.scanView(joined)) : found;
  }

  private scanView(view: NormalizedView): EntityMatch[] {
    return this.scanPlain(view.text).map((m) => ({ type: m.type, ...view.toOriginal(m.start, m.end) }));
  }

  private scanPlain(text: string): EntityMatch[] {
    const all = this.options.prefilter === false;
    const found = this.triggers.map((chars) => all || containsAny(text, chars));
    const present: number[] = [];
    for (let i = 0; i < this.patterns.length; i++) {
      const t = this.triggerOf[i]!;
      if (t < 0 || found[t]) present.push(i);
    }
    if (present.length === 0) return [];
    return this.scannerFor(present).scan(text);
  }

  private scannerFor(present: number[]): CombinedScan {
    const key = present.join(',');
    let scanner = this.scanners.get(key);
    if (!scanner) {
      if (this.scanners.size >= MAX_SCANNERS) this.scanners.clear();
      scanner = new CombinedScan(present.map((i) => this.patterns[i]!));
      this.scanners.set(key, scanner);
    }
    return scanner;
  }
}

/** Whether `text` holds one of `chars`: one string search per character, which V8 runs as memchr. */
function containsAny(text: string, chars: string): boolean {
  for (let i = 0; i < chars.length; i++) if (text.includes(chars[i]!)) return true;
  return false;
}

/**
 * The first reading's findings, amended by the second's: one that overlaps nothing is added, one
 * that holds whole every finding it overlaps replaces them (`jane.roe@example.or` then the
 * `g` after a no-break space), one that cuts into a finding is dropped (a phone number joined
 * with the first group of the address in the next column). Both lists are ordered.
 */
function mergeFindings(first: EntityMatch[], second: EntityMatch[]): EntityMatch[] {
  const out: EntityMatch[] = [];
  let i = 0;
  for (const b of second) {
    while (i < first.length && first[i]!.end <= b.start) out.push(first[i++]!);
    let j = i;
    while (j < first.length && first[j]!.start < b.end) j++;
    if (first.slice(i, j).every((a) => a.start >= b.start && a.end <= b.end)) {
      out.push(b);
      i = j;
    }
  }
  while (i < first.length) out.push(first[i++]!);
  return out;
}
