/**
 * Rewrites one string: each match of a masked type becomes its replacement. In JSON-text mode
 * (tool input streamed as partial JSON) a match never begins inside an escape sequence, so the
 * rewritten fragment stays valid JSON.
 */
import type { EntityMatch } from '../inspect/combined-scan.ts';
import type { MaskReplacer } from './mask-replacer.ts';

/** The rewritten text and how many values of each type were replaced. */
export interface MaskedText {
  readonly text: string;
  readonly counts: ReadonlyMap<string, number>;
}

/** A match, with the value it spells when that differs from its raw span (JSON text with escapes). */
export type ValuedMatch = EntityMatch & { readonly value?: string };

/**
 * Masks the `matches` (ordered, non-overlapping) of `text` whose type is in `types`. A match's
 * `value`, when given, is what the replacer numbers (or hashes), so `a\u0040b.org` in JSON text
 * gets the same placeholder as `a@b.org` in plain text.
 */
export function maskText(
  text: string,
  matches: readonly ValuedMatch[],
  types: ReadonlySet<string>,
  replacer: MaskReplacer,
  jsonText = false,
): MaskedText {
  const counts = new Map<string, number>();
  let out = '';
  let at = 0;
  for (const m of matches) {
    if (!types.has(m.type)) continue;
    let start = m.start;
    if (jsonText) {
      // `\n` then a key: the match may have swallowed the escape's letter; a backslash run of odd length
      // escapes `start`.
      let slashes = 0;
      while (start - slashes - 1 >= at && text.charCodeAt(start - slashes - 1) === 92) slashes++;
      if (slashes % 2 === 1) start++;
      if (start >= m.end) continue;
    }
    const value = start === m.start && m.value !== undefined ? m.value : text.slice(start, m.end);
    out += text.slice(at, start) + replacer.replace(m.type, value);
    at = m.end;
    counts.set(m.type, (counts.get(m.type) ?? 0) + 1);
  }
  return counts.size === 0 ? { text, counts } : { text: out + text.slice(at), counts };
}
