/**
 * Finds entities in text. Each pattern may name a trigger that every one of its matches contains
 * (a literal prefix, an '@', a digit); patterns whose trigger is absent from a text cannot match
 * it and are left out of that scan, so prose without digits or key prefixes skips most of the
 * work. The combined scanner for each set of present patterns is built once and reused.
 */
import { CombinedScan } from './combined-scan.ts';
import { BUILTIN_PATTERNS, type EntityPattern } from './entity-patterns.ts';
import { normalizedView } from './normalized-view.ts';

/** One entity found in a text: its type and span (UTF-16 offsets); the value itself is never stored. */
export interface EntityMatch {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

/** Distinct pattern sets seen at most; each costs one compiled expression. */
const MAX_SCANNERS = 256;

/**
 * An immutable detector for a fixed set of entity patterns (built-ins plus the bundle's custom
 * ones). Built once per policy bundle; `scan` is safe to call from any request.
 */
export class EntityDetector {
  /** Every type this detector can report, in priority order. */
  readonly types: readonly string[];
  /** Distinct triggers (several types share `\\d`), each tested once per scan. */
  private readonly triggers: readonly RegExp[];
  /** For each pattern, the index of its trigger in `triggers`, or -1 when it has none. */
  private readonly triggerOf: readonly number[];
  private readonly scanners = new Map<string, CombinedScan>();

  /** `prefilter: false` scans with every pattern every time (the reference the prefilter is tested against). */
  constructor(
    readonly patterns: readonly EntityPattern[] = BUILTIN_PATTERNS,
    private readonly options: { readonly prefilter?: boolean } = {},
  ) {
    this.types = patterns.map((p) => p.type);
    const sources = [...new Set(patterns.flatMap((p) => (p.trigger === undefined ? [] : [p.trigger])))];
    this.triggers = sources.map((source) => new RegExp(source));
    this.triggerOf = patterns.map((p) => (p.trigger === undefined ? -1 : sources.indexOf(p.trigger)));
  }

  /**
   * Every validated entity in `text`, in order, never overlapping. Linear in the text's length.
   * Found in the normalised view (zero-width characters dropped, full-width forms and odd spaces
   * folded: normalized-view.ts); spans are the original text's, hidden characters included.
   */
  scan(text: string): EntityMatch[] {
    const view = normalizedView(text);
    if (!view) return this.scanPlain(text);
    return this.scanPlain(view.text).map((m) => ({ type: m.type, ...view.toOriginal(m.start, m.end) }));
  }

  private scanPlain(text: string): EntityMatch[] {
    const all = this.options.prefilter === false;
    const found = this.triggers.map((trigger) => all || trigger.test(text));
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
