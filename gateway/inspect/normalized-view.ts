/**
 * The text a detector or a keyword rule should read, and the way back to the text as written.
 * Evasions that a reader (human or model) does not see — zero-width and other format characters,
 * soft hyphens, full-width or mathematical letters and digits, no-break and other spaces —
 * are undone here: NFKC per character, format characters (Unicode Cf) and non-ASCII spaces
 * (no-break, thin, ideographic…) dropped: `4111\u00a01111…` and `jane\u00a0@\u00a0example.org`
 * read as the number and the address they show. ASCII spaces stay, so words stay apart. Each character of the view remembers the span of the
 * original it came from, so a match in the view masks the original span, hidden characters
 * inside it included. Hand-written: the normalisation libraries on npm give no offset map.
 */

/** A normalised text with, per character, the original span it came from. */
export interface NormalizedView {
  readonly text: string;
  /** The original span [start, end) of the view's span [start, end). */
  toOriginal(start: number, end: number): { start: number; end: number };
}

/** Anything a pure-ASCII text cannot contain: such a text is its own view (no allocation). */
const NON_ASCII = /[^\x00-\x7f]/;
const FORMAT = /\p{Cf}/u;
const SPACE = /\s/u;

/** The view of `text` for detection, or undefined when it is `text` itself (pure ASCII). */
export function normalizedView(text: string): NormalizedView | undefined {
  if (!NON_ASCII.test(text)) return undefined;
  let out = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + width);
    if (cp >= 0x80 && (FORMAT.test(ch) || SPACE.test(ch))) {
      i += width;
      continue;
    }
    const mapped = cp < 0x80 ? ch : ch.normalize('NFKC');
    for (let k = 0; k < mapped.length; k++) {
      from.push(i);
      to.push(i + width);
    }
    out += mapped;
    i += width;
  }
  return {
    text: out,
    toOriginal(start, end) {
      if (end <= start) return { start: from[start] ?? text.length, end: from[start] ?? text.length };
      return { start: from[start]!, end: to[end - 1]! };
    },
  };
}

/**
 * Letters from other scripts that look like Latin ones, folded for keyword rules (a blocked word
 * spelled with a Cyrillic а or a Greek ο is the same word to a reader). Lower case only: the
 * keyword view is lower-cased first. Mathematical and full-width forms are already NFKC's.
 */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', һ: 'h', і: 'i', ї: 'i', ј: 'j', к: 'k', ӏ: 'l', м: 'm', н: 'h', о: 'o', р: 'p',
  с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', ԁ: 'd', ԛ: 'q', ԝ: 'w', ɡ: 'g', ո: 'n', ս: 'u',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y', ω: 'w',
  // Latin look-alikes outside ASCII
  ı: 'i', ſ: 's', ℓ: 'l',
};
const CONFUSABLE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'gu');

/**
 * The text keyword rules read: as written when it is ASCII, else the detection view lower-cased
 * with look-alike letters folded. Keywords are matched in it by keywordPattern, which lets any
 * whitespace stand between their letters.
 */
export function keywordView(text: string): string {
  const view = normalizedView(text);
  return view === undefined ? text : view.text.toLowerCase().replace(CONFUSABLE, (c) => CONFUSABLES[c]!);
}

/**
 * The source of a regular expression for a keyword that allows any whitespace between its letters,
 * so it matches however it is spaced or split across two blocks of the prompt (joined by a
 * newline); undefined when nothing is left of it. Run on keywordView's text, case-insensitive.
 */
export function keywordSource(keyword: string): string | undefined {
  const letters = [...keywordView(keyword).toLowerCase().replace(/\s+/g, '')];
  if (letters.length === 0) return undefined;
  return letters.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s*');
}

/** Regular-expression flags for sources: Unicode mode (several times slower) only where a source needs it. */
export function keywordFlags(sources: readonly string[], extra: string): string {
  return sources.some((s) => NON_ASCII.test(s)) ? `${extra}iu` : `${extra}i`;
}
