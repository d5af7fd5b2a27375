/**
 * How much of a growing text's end could still be the beginning of an entity. The stream masker
 * holds back exactly that much and releases the rest at once, so a chunk that ends on a space or
 * punctuation costs no delay at all, and a chunk ending inside a word costs only that word.
 */
import type { EntityPattern, TailRule } from './entity-patterns.ts';
import { foldableBmpUnits, foldCodePoint } from './normalized-view.ts';

const PEM_BEGIN = '-----BEGIN';
/**
 * A whole END line. Until one follows the BEGIN, the block waits: `-----END` alone is not enough,
 * as the rest of its line may still be coming, and a block whose END line is cut would be masked
 * up to `-----END` with the line itself sent in clear.
 */
const PEM_END_LINE = /-----END[^-\r\n]{0,40}-----/g;
const PEM_MAX = 16_384 + 64;
/** A secret keyword, its separator and a value that may still be growing, at the very end. */
const ASSIGNMENT_TAIL =
  // eslint-disable-next-line @stylistic/max-len -- one regex literal: splitting it would risk changing what it matches
  /(?:password|passwd|pwd|secret|token|api[_-]?key|access_key|private_key|auth)[A-Za-z0-9_.-]{0,34}["']?[ \t]{0,3}[:=]?[ \t]{0,3}["']?[^\s"'\\,;]{0,200}$/i;
const ASSIGNMENT_WINDOW = 300;

/** `A-Z`, `a-z` and `0-9` in a charset string stand for their ranges; every other character is literal. */
function expandRanges(chars: string): string {
  const span = (from: string, to: string): string =>
    Array.from({ length: to.charCodeAt(0) - from.charCodeAt(0) + 1 }, (_, i) =>
      String.fromCharCode(from.charCodeAt(0) + i),
    ).join('');
  return chars.replace('A-Z', span('A', 'Z')).replace('a-z', span('a', 'z')).replace('0-9', span('0', '9'));
}

/** Mathematical letters and digits (U+1D400–U+1D7FF, NFKC: ASCII) are surrogate pairs led by U+D835. */
const MATH_HIGH = 0xd835;
const isHigh = (c: number): boolean => c >= 0xd800 && c < 0xdc00;
const isLow = (c: number): boolean => c >= 0xdc00 && c < 0xe000;

/**
 * What the detection view reads BMP code units as (normalized-view.ts), for the tail to hold
 * exactly what the detector reads as an entity's: `gap` marks invisible characters and
 * non-ASCII spaces (nothing, or a space only where one is wanted), `toAscii` lists for each ASCII
 * code the other units read as it (full-width forms and other scripts' digits, dashes, look-alike
 * letters, a tab as a space). Built on first use; tables per character set are cached.
 */
interface BmpFolds {
  readonly gap: Uint8Array;
  readonly toAscii: ReadonlyMap<number, readonly number[]>;
}
let bmpFolds: BmpFolds | undefined;
const tables = new Map<string, Uint8Array>();

function foldsOfBmp(): BmpFolds {
  if (bmpFolds) return bmpFolds;
  const gap = new Uint8Array(0x10000);
  const toAscii = new Map<number, number[]>();
  for (const c of foldableBmpUnits()) {
    const f = foldCodePoint(c);
    if (f === '' || (f === ' ' && c >= 0x80)) gap[c] = 1;
    else if (f.length === 1 && f.charCodeAt(0) < 0x80 && f.charCodeAt(0) !== c) {
      const list = toAscii.get(f.charCodeAt(0)) ?? [];
      list.push(c);
      toAscii.set(f.charCodeAt(0), list);
    }
  }
  bmpFolds = { gap, toAscii };
  return bmpFolds;
}

/** The code units a charset rule's run may hold: its characters, what reads as them, and invisible ones. */
function tableFor(chars: string): Uint8Array {
  let table = tables.get(chars);
  if (table) return table;
  const { gap, toAscii } = foldsOfBmp();
  table = Uint8Array.from(gap);
  for (const ch of expandRanges(chars)) {
    const code = ch.charCodeAt(0);
    table[code] = 1;
    for (const unit of toAscii.get(code) ?? []) table[unit] = 1;
  }
  if (/[A-Za-z0-9]/.test(chars)) {
    table[MATH_HIGH] = 1;
    table.fill(1, 0xdc00, 0xe000);
  }
  tables.set(chars, table);
  return table;
}

interface CharsetTail {
  readonly table: Uint8Array;
  readonly max: number;
}

/** A hold-back calculator for a set of entity patterns; build once per detector. */
export class StreamTail {
  private readonly charsets: CharsetTail[] = [];
  private readonly pem: boolean;
  private readonly assignment: boolean;
  /** The most characters any rule may hold (bounds the stream masker's buffer). */
  readonly maxHold: number;

  constructor(patterns: readonly EntityPattern[], extra: readonly TailRule[] = []) {
    const rules = [...patterns.map((p) => p.tail), ...extra];
    let max = 0;
    for (const rule of rules) {
      if (rule.kind !== 'charset') continue;
      const table = tableFor(rule.chars);
      // Hidden characters lengthen an entity as written: room for one after every visible one.
      const ruleMax = rule.max * 2;
      this.charsets.push({ table, max: ruleMax });
      max = Math.max(max, ruleMax);
    }
    this.pem = rules.some((r) => r.kind === 'pem');
    this.assignment = rules.some((r) => r.kind === 'assignment');
    if (this.pem) max = Math.max(max, PEM_MAX);
    if (this.assignment) max = Math.max(max, ASSIGNMENT_WINDOW);
    this.maxHold = max;
  }

  /** Number of characters at the end of `text` that must wait for more text before they can be judged. */
  holdLength(text: string): number {
    const n = text.length;
    const { gap } = foldsOfBmp();
    let hold = 0;
    for (const { table, max } of this.charsets) {
      let i = n;
      const stop = Math.max(0, n - max);
      while (i > stop && table[text.charCodeAt(i - 1)] === 1) i--;
      // Never half a surrogate pair (an emoji's second half is held like a mathematical digit's).
      if (i > 0 && i < n && isLow(text.charCodeAt(i)) && isHigh(text.charCodeAt(i - 1))) i++;
      // No entity starts with a space or an invisible character: never hold one back.
      while (i < n && (text.charCodeAt(i) === 32 || gap[text.charCodeAt(i)] === 1)) i++;
      hold = Math.max(hold, n - i);
    }
    if (this.pem) {
      const begin = text.lastIndexOf(PEM_BEGIN, n);
      PEM_END_LINE.lastIndex = begin + PEM_BEGIN.length;
      if (begin >= 0 && n - begin <= PEM_MAX && !PEM_END_LINE.test(text)) hold = Math.max(hold, n - begin);
    }
    if (this.assignment) {
      const window = text.slice(Math.max(0, n - ASSIGNMENT_WINDOW));
      const m = ASSIGNMENT_TAIL.exec(window);
      if (m) hold = Math.max(hold, m[0].length);
    }
    return Math.min(hold, n);
  }
}
