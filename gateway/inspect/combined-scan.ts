/**
 * One left-to-right scan of a text for a set of entity patterns, findings in order and never
 * overlapping. Written here rather than taken from a library: the PII libraries on npm
 * scan once per type, do not validate, or are not built for streams; RE2 bindings need a native build.
 */
import type { EntityPattern } from './entity-patterns.ts';

/** One entity found in a text: its type and span (UTF-16 offsets); the value itself is never stored. */
export interface EntityMatch {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

interface Compiled {
  readonly pattern: EntityPattern;
  /** The pattern alone, global: its leftmost match from a position. Shared; a scan never yields mid-way. */
  readonly regex: RegExp;
}

/**
 * Scans text for a fixed list of patterns (in priority order); immutable, safe to share. The
 * result is that of one alternation of all the patterns run left to right (the leftmost match;
 * at one position the first pattern in order), but each pattern runs as its own expression:
 * alone, V8 skips ahead to a pattern's first character or literal, while an alternation of
 * patterns that start with look-behinds is tried at every position (2–3× slower on prose).
 */
export class CombinedScan {
  private readonly compiled: readonly Compiled[];

  constructor(patterns: readonly EntityPattern[]) {
    this.compiled = patterns.map((pattern) => ({ pattern, regex: new RegExp(pattern.source, 'g') }));
  }

  /** Every validated entity in `text`, in order, never overlapping. Linear in the text's length. */
  scan(text: string): EntityMatch[] {
    const out: EntityMatch[] = [];
    const n = this.compiled.length;
    // Each pattern's leftmost match at or after `pos` (null: none left), found again only once
    // `pos` has passed it, so every expression runs over the text about once.
    const next: (RegExpExecArray | null | undefined)[] = new Array(n);
    let pos = 0;
    let floor = 0; // where the last finding ended
    for (;;) {
      let best = -1;
      for (let k = 0; k < n; k++) {
        let m = next[k];
        if (m === undefined || (m !== null && m.index < pos)) {
          const re = this.compiled[k]!.regex;
          re.lastIndex = pos;
          m = next[k] = re.exec(text);
        }
        if (m && (best < 0 || m.index < next[best]!.index)) best = k;
      }
      if (best < 0) return out;
      const at = next[best]!.index;
      const hit = this.accept(best, next, at, text, floor);
      if (hit) {
        out.push(hit);
        floor = hit.end;
        pos = Math.max(hit.end, at + 1);
      } else pos = at + 1;
    }
  }

  /** The finding at `at`: the first pattern's if it validates, else the next pattern's that matches there. */
  private accept(
    first: number,
    next: readonly (RegExpExecArray | null | undefined)[],
    at: number,
    text: string,
    floor: number,
  ): EntityMatch | undefined {
    for (let k = first; k < this.compiled.length; k++) {
      const m = next[k];
      // Leftmost is `at` for every pattern that matches there: no pattern's next match is before it.
      if (!m || m.index !== at) continue;
      const hit = findingAt(this.compiled[k]!.pattern, at, m[0], m.groups?.v, text, floor);
      if (hit) return hit;
    }
    return undefined;
  }
}

/**
 * The finding a pattern's match at `index` (`whole`, and its `v` group's `value` if any) stands
 * for, or undefined when it fails the pattern's validation. `floor`: where the previous finding
 * ended; a match walked back into it would overlap it.
 */
export function findingAt(
  pattern: EntityPattern,
  index: number,
  whole: string,
  value: string | undefined,
  text: string,
  floor: number,
): EntityMatch | undefined {
  const end = index + whole.length;
  // The value group is the tail of its pattern by construction, so its span ends where the match does.
  let start = end - (value ?? whole).length;
  const back = pattern.extendBack;
  if (back) {
    // Never back into the previous finding: findings do not overlap.
    const limit = Math.max(floor, start - back.max);
    while (start > limit && back.chars.test(text[start - 1]!)) start--;
    // An optional walk is the pattern's own prefix (an IPv6 address's first group): cut short by
    // the previous finding, the pattern would not have matched after it.
    if (back.optional && start === floor && start > 0 && back.chars.test(text[start - 1]!)) return undefined;
    while (start < index && !back.first.test(text[start]!)) start++;
    if (start === index && !back.optional) return undefined;
  }
  if (pattern.validate && !pattern.validate(text.slice(start, end))) return undefined;
  return { type: pattern.type, start, end };
}
