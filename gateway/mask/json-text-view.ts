/**
 * Partial JSON text (a streamed tool input) as the detectors must see it: with its escape
 * sequences decoded, so `jane.roe\u0040example.org` or `AKIA\u0051…` is the entity it spells
 * once parsed, not a run of characters no pattern matches. Each decoded character keeps the
 * offset of the raw text it came from, so a match maps back to the exact raw span to replace.
 */

/** Raw text decoded; `rawAt` maps a decoded offset to its raw one (undefined: the same offsets). */
export interface JsonTextView {
  readonly text: string;
  readonly rawAt: readonly number[] | undefined;
  /**
   * Decoded offset of an escape sequence cut off by the end of the text (its raw offset is
   * rawOffset(view, pendingEscape)); -1: none. Its character is not known yet.
   */
  readonly pendingEscape: number;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
const HEX4 = /^[0-9A-Fa-f]{4}$/;

/**
 * Decodes every complete escape of `raw`. Anything that is not a valid escape stays as its raw
 * characters; a backslash the text ends in, or `\u` with fewer than four digits left, is reported
 * in `pendingEscape`. (Written here: JSON.parse cannot decode a fragment, nor report offsets.)
 */
export function jsonTextView(raw: string): JsonTextView {
  if (!raw.includes('\\')) return { text: raw, rawAt: undefined, pendingEscape: -1 };
  let text = '';
  const rawAt: number[] = [];
  let pendingEscape = -1;
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i]!;
    if (ch === '\\' && pendingEscape < 0) {
      const next = raw[i + 1];
      if (next === undefined) {
        pendingEscape = text.length;
      } else if (SIMPLE_ESCAPES[next] !== undefined) {
        rawAt.push(i);
        text += SIMPLE_ESCAPES[next];
        i += 2;
        continue;
      } else if (next === 'u') {
        const hex = raw.slice(i + 2, i + 6);
        if (HEX4.test(hex)) {
          rawAt.push(i);
          text += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          continue;
        }
        if (hex.length < 4 && /^[0-9A-Fa-f]*$/.test(hex)) pendingEscape = text.length;
      }
    }
    rawAt.push(i);
    text += ch;
    i += 1;
  }
  rawAt.push(raw.length);
  return { text, rawAt, pendingEscape };
}

/** The raw offset of decoded offset `at` (0 ≤ at ≤ view.text.length). */
export function rawOffset(view: JsonTextView, at: number): number {
  return view.rawAt ? view.rawAt[at]! : at;
}
