/**
 * The text a detector or a keyword rule should read, and the way back to the text as written.
 * Evasions that a reader (human or model) does not see are undone here, per code point:
 * NFKC (full-width `＠`, mathematical and circled letters and digits are ASCII), decimal digits
 * of every script read as ASCII digits, dashes as `-`, the common Cyrillic/Greek look-alikes
 * of Latin letters as those letters, format and other invisible characters (Unicode Cf and
 * default-ignorables: zero-width spaces and joiners, soft hyphens, BOM, bidi controls, word
 * joiners, variation selectors) dropped, and each run of whitespace of any kind read as one
 * space (one line break when it holds one). Each character of the view remembers the span of
 * the original it came from, so a match in the view masks the original span, the hidden
 * characters inside it included. Hand-written: the normalisation libraries on npm give no
 * offset map, and the confusable packages map whole strings.
 */

/** A normalised text with the way back to the original's offsets. */
export interface NormalizedView {
  readonly text: string;
  /** The original span [start, end) of the view's span [start, end). */
  toOriginal(start: number, end: number): { start: number; end: number };
}

/**
 * How a view reads spacing. 'seen', the detector's first reading: each whitespace character as
 * one space (one line break if it is one), so a no-break space between two digit groups is the
 * space a reader sees; runs are not collapsed, since two spaces keep apart what they separate
 * (table columns: a phone number and the address in the next column). 'joined', its second
 * reading where spacing may hide an entity: non-ASCII spaces as nothing, glue between the
 * characters they stand between (`jane\u00a0@\u00a0example.org`), and every run of whitespace
 * as one space (`4111  1111  1111  1111`).
 */
export type SpaceReading = 'seen' | 'joined';

/** Printable ASCII and line breaks: read as they are, no view. */
const PLAIN = /^[\n -~]*$/;
/** Where the builder has work to do, per reading: anything else, and for 'joined' two spaces after a character. */
const TRIGGER: Readonly<Record<SpaceReading, RegExp>> = { seen: /[^\n -~]/g, joined: /[^\n -~]|[^ \n] {2}/g };
const DOUBLE_SPACE = /[^ \n] {2}/;
/** Non-ASCII horizontal spaces, and a digit followed by two spaces: a text holding either gets a 'joined' reading. */
const WIDE_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/;
const DIGIT_GAP = /\d {2}/;

const WHITE_SPACE = /\p{White_Space}/u;
const LINE_BREAK = /[\n\v\f\r\x85\u2028\u2029]/;
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Cc}]/u;
const DIGIT = /\p{Nd}/u;
const DASH = /[\p{Pd}\u2212]/u;

/**
 * Letters of other scripts that look like Latin ones (upper and lower case: the detection view
 * keeps case, a Greek capital eta is an H but a small one an n). A small hand-written table of
 * the common ones; the full Unicode confusables (UTS #39) also merge 0/O, 1/l and rn/m, too
 * loose for a deny list read on every prompt.
 */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  У: 'Y',
  Х: 'X',
  Ѕ: 'S',
  І: 'I',
  Ј: 'J',
  Ԛ: 'Q',
  Ԝ: 'W',
  Ү: 'Y',
  Һ: 'H',
  Ӏ: 'l',
  Ё: 'E',
  Ї: 'I',
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  ӏ: 'l',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ү: 'y',
  // Greek
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'H',
  Ι: 'I',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Υ: 'Y',
  Χ: 'X',
  α: 'a',
  β: 'b',
  γ: 'y',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ω: 'w',
  // Armenian and Latin look-alikes outside ASCII
  ո: 'n',
  ս: 'u',
  օ: 'o',
  ı: 'i',
  ɡ: 'g',
  ɑ: 'a',
};

/** The value of a decimal digit of any script: digits come in runs of ten from zero. */
function digitValue(cp: number): string {
  let zero = cp;
  while (DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return String((cp - zero) % 10);
}

/**
 * What one code point reads as in a view: '' (invisible), ' ' (horizontal space), '\n' (line
 * break), or its folded form. Not cached; `foldOf` is.
 */
export function foldCodePoint(cp: number): string {
  const ch = String.fromCodePoint(cp);
  if (WHITE_SPACE.test(ch)) return LINE_BREAK.test(ch) ? '\n' : ' ';
  if (INVISIBLE.test(ch)) return '';
  if (cp < 0x80) return ch;
  let out = '';
  for (const c of ch.normalize('NFKC')) {
    out += CONFUSABLES[c] ?? (DIGIT.test(c) ? digitValue(c.codePointAt(0)!) : DASH.test(c) ? '-' : c);
  }
  return out;
}

/**
 * Every BMP code unit the view may read as something else (NFKC changes it, or it is a space, a
 * control, invisible, a digit, a dash or a look-alike): about 4,600 of 63,000, found with one
 * expression over them all (Changes_When_NFKC_Casefolded covers NFKC and the invisible ones).
 */
export function foldableBmpUnits(): number[] {
  const units: string[] = [];
  for (let c = 0; c < 0x10000; c++) if (c < 0xd800 || c >= 0xe000) units.push(String.fromCharCode(c));
  const foldable = /[\p{Changes_When_NFKC_Casefolded}\p{White_Space}\p{Cc}\p{Cf}\p{Nd}\p{Pd}\u2212]/gu;
  const found = new Set([...units.join('').matchAll(foldable)].map((m) => m[0].charCodeAt(0)));
  for (const c of Object.keys(CONFUSABLES)) found.add(c.charCodeAt(0));
  return [...found];
}

/** Folds seen so far; bounded by the code points that occur in text. */
const folds = new Map<number, string>();
function foldOf(cp: number): string {
  let f = folds.get(cp);
  if (f === undefined) {
    f = foldCodePoint(cp);
    folds.set(cp, f);
  }
  return f;
}

/** A character that ends a run the builder folds: printable ASCII other than space. */
const isPlain = (c: number): boolean => c > 0x20 && c < 0x7f;

/**
 * The view of `text`, or undefined when it reads as written (printable ASCII, the common case:
 * no allocation). Offsets map per span: where the view's length differs from the original's
 * (a dropped character, a collapsed run of spaces, a two-unit mathematical digit) a view span
 * maps to its whole original span; elsewhere view and original are aligned.
 */
export function normalizedView(text: string, spaces: SpaceReading = 'seen'): NormalizedView | undefined {
  const joined = spaces === 'joined';
  if (PLAIN.test(text) && !(joined && DOUBLE_SPACE.test(text))) return undefined;
  const parts: string[] = [];
  // The spans where view and original differ in length: view [pv, pvEnd) ↔ original [po, poEnd).
  const pv: number[] = [];
  const pvEnd: number[] = [];
  const po: number[] = [];
  const poEnd: number[] = [];
  let v = 0;
  const put = (s: string, from: number, to: number): void => {
    if (s.length !== to - from) {
      pv.push(v);
      pvEnd.push(v + s.length);
      po.push(from);
      poEnd.push(to);
    }
    if (s !== '') parts.push(s);
    v += s.length;
  };
  const trigger = new RegExp(TRIGGER[spaces]);
  let copied = 0;
  let m: RegExpExecArray | null;
  while ((m = trigger.exec(text)) !== null) {
    // The run of non-plain characters from the trigger; when joining, a space before it belongs to it.
    let i = m[0].length === 3 ? m.index + 1 : m.index;
    if (joined && i > copied && !isPlain(text.charCodeAt(i - 1))) i--;
    if (i > copied) {
      parts.push(text.slice(copied, i));
      v += i - copied;
    }
    // When joining, a group of invisible and space characters reads as one space, one line break or nothing.
    let gap = -1;
    let gapRead = '';
    for (; i < text.length;) {
      const cp = text.codePointAt(i)!;
      if (isPlain(cp)) break;
      const width = cp > 0xffff ? 2 : 1;
      let f = foldOf(cp);
      if (!joined) put(f, i, i + width);
      else {
        if (f === ' ' && cp >= 0x80) f = '';
        if (f === '' || f === ' ' || f === '\n') {
          if (gap < 0) gap = i;
          if (f === '\n') gapRead = '\n';
          else if (f === ' ' && gapRead === '') gapRead = ' ';
        } else {
          if (gap >= 0) put(gapRead, gap, i);
          gap = -1;
          gapRead = '';
          put(f, i, i + width);
        }
      }
      i += width;
    }
    if (gap >= 0) put(gapRead, gap, i);
    copied = i;
    trigger.lastIndex = i;
  }
  if (copied < text.length) parts.push(text.slice(copied));
  const out = parts.join('');
  if (pv.length === 0 && out === text) return undefined;
  /** The last differing span starting at or before view offset `p`, or -1. */
  const spanAt = (p: number): number => {
    let lo = 0;
    let hi = pv.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (pv[mid]! <= p) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const startOf = (p: number): number => {
    const k = spanAt(p);
    if (k < 0) return p;
    return p < pvEnd[k]! ? po[k]! : p - pvEnd[k]! + poEnd[k]!;
  };
  const endOf = (p: number): number => {
    const k = spanAt(p);
    if (k < 0) return p + 1;
    return p < pvEnd[k]! ? poEnd[k]! : p - pvEnd[k]! + poEnd[k]! + 1;
  };
  return {
    text: out,
    toOriginal(start, end) {
      const from = startOf(start);
      return { start: from, end: end > start ? endOf(end - 1) : from };
    },
  };
}

/** Whether `text` is printable ASCII and line breaks only (its view differs from it in spacing alone). */
export function isPlainAscii(text: string): boolean {
  return PLAIN.test(text);
}

/**
 * Whether spacing may hide an entity in `text`, so that the detector reads it 'joined' too: it
 * holds a no-break or other non-ASCII space, or a digit followed by two spaces in its 'seen' view.
 */
export function spacingMayHide(text: string, seen: NormalizedView | undefined): boolean {
  return (seen !== undefined && WIDE_SPACE.test(text)) || DIGIT_GAP.test(seen?.text ?? text);
}

/**
 * The text keyword rules are looked for in, lower-cased: the text as written when it is printable
 * ASCII (keywordSource's expressions allow for its spacing), else its view (NFC first, so a letter
 * and its accent typed apart are the letter typed whole). `known` passes what the caller already
 * has: whether the text is plain, and its view.
 */
export function keywordText(text: string, known?: { plain: boolean; view: NormalizedView | undefined }): string {
  if (known ? known.plain : isPlainAscii(text)) return text.toLowerCase();
  const composed = text.normalize('NFC');
  const view = known && composed === text ? known.view : normalizedView(composed);
  return (view?.text ?? composed).toLowerCase();
}

const REGEX_SYNTAX = /[.*+?^${}()|[\]\\/]/g;

/**
 * The source of a regular expression that finds `keyword` in keywordText's text: folded as the
 * text is, any run of whitespace where the keyword has spaces, and an optional line break
 * between any two letters. The prompt text joins its blocks with a line break, so a keyword
 * split across two blocks ("pass" | "word") still matches; so does one split across two lines
 * of one block, the accepted false positive (keyword rules deny or hold: they fail closed).
 * Undefined when nothing visible is left of the keyword.
 */
export function keywordSource(keyword: string): string | undefined {
  const words = keywordText(keyword).split(/\s+/);
  if (words.every((w) => w === '')) return undefined;
  return words.map((w) => [...w].map((c) => c.replace(REGEX_SYNTAX, '\\$&')).join('\\n?')).join('\\s+');
}
