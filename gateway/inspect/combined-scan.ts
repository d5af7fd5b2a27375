/**
 * One combined regular expression over a set of entity patterns: a single left-to-right pass
 * over the text whatever the number of types, so the cost grows with the text, not with the
 * types times the text. Written here rather than taken from a library: the PII libraries on npm
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
  /** Index of the alternative's own capture group in the combined expression. */
  readonly group: number;
  /** Index of its `v` (value) group, when the masked part is narrower than the match. */
  readonly valueGroup: number | undefined;
  /** The same pattern alone, sticky: retried at a position where another type's candidate failed validation. */
  readonly sticky: RegExp;
}

/** Capturing groups in a source: `(` not followed by `?`, plus named groups `(?<name>`. */
function countGroups(source: string): number {
  let n = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') {
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
    } else if (
      c === '(' &&
      (source[i + 1] !== '?' || (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!'))
    )
      n++;
  }
  return n;
}

/** Scans text for a fixed list of patterns (in priority order); immutable, safe to share. */
export class CombinedScan {
  private readonly combined: RegExp;
  private readonly compiled: readonly Compiled[];

  constructor(patterns: readonly EntityPattern[]) {
    const parts: string[] = [];
    const compiled: Compiled[] = [];
    let group = 1;
    for (const pattern of patterns) {
      const source = pattern.source.replace('(?<v>', '(');
      const valueAt = pattern.source.indexOf('(?<v>');
      const valueGroup = valueAt < 0 ? undefined : group + 1 + countGroups(pattern.source.slice(0, valueAt));
      compiled.push({ pattern, group, valueGroup, sticky: new RegExp(source, 'y') });
      parts.push(`(${source})`);
      group += 1 + countGroups(pattern.source);
    }
    this.combined = new RegExp(parts.join('|'), 'g');
    this.compiled = compiled;
  }

  /** Every validated entity in `text`, in order, never overlapping. Linear in the text's length. */
  scan(text: string): EntityMatch[] {
    const out: EntityMatch[] = [];
    const re = new RegExp(this.combined); // own lastIndex: scans may interleave across requests
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const hit = this.accept(m, text);
      if (hit) {
        out.push(hit);
        re.lastIndex = Math.max(hit.end, m.index + 1);
      } else re.lastIndex = m.index + 1;
    }
    return out;
  }

  /** The finding for a combined-regex match: its alternative if it validates, else the next one that matches here. */
  private accept(m: RegExpExecArray, text: string): EntityMatch | undefined {
    let k = 0;
    while (m[this.compiled[k]!.group] === undefined) k++;
    const first = this.compiled[k]!;
    const found = this.validated(first, m, m.index, first.group, text);
    if (found) return found;
    for (let j = k + 1; j < this.compiled.length; j++) {
      const c = this.compiled[j]!;
      c.sticky.lastIndex = m.index;
      const again = c.sticky.exec(text);
      const hit = again ? this.validated(c, again, m.index, 0, text) : undefined;
      if (hit) return hit;
    }
    return undefined;
  }

  private validated(
    c: Compiled,
    m: RegExpExecArray,
    index: number,
    base: number,
    text: string,
  ): EntityMatch | undefined {
    const whole = m[base]!;
    const value = c.valueGroup === undefined ? undefined : m[base === 0 ? c.valueGroup - c.group : c.valueGroup];
    const end = index + whole.length;
    // The value group is the tail of its pattern by construction, so its span ends where the match does.
    let start = end - (value ?? whole).length;
    const back = c.pattern.extendBack;
    if (back) {
      const floor = Math.max(0, start - back.max);
      while (start > floor && back.chars.test(text[start - 1]!)) start--;
      while (start < index && !back.first.test(text[start]!)) start++;
      if (start === index) return undefined;
    }
    if (c.pattern.validate && !c.pattern.validate(text.slice(start, end))) return undefined;
    return { type: c.pattern.type, start, end };
  }
}
