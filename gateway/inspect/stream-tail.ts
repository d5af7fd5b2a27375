/**
 * How much of a growing text's end could still be the beginning of an entity. The stream masker
 * holds back exactly that much and releases the rest at once, so a chunk that ends on a space or
 * punctuation costs no delay at all, and a chunk ending inside a word costs only that word.
 */
import type { EntityPattern, TailRule } from './entity-patterns.ts';

const PEM_BEGIN = '-----BEGIN';
/**
 * A whole END line. Until one follows the BEGIN, the block waits: `-----END` alone is not enough,
 * as the rest of its line may still be coming, and a block whose END line is cut would be masked
 * up to `-----END` with the line itself sent in clear.
 */
const PEM_END_LINE = /-----END[^-\r\n]{0,40}-----/g;
const PEM_MAX = 16_384 + 64;
/** A secret keyword, its separator and a value that may still be growing, at the very end. */
const ASSIGNMENT_TAIL = /(?:password|passwd|pwd|secret|token|api[_-]?key|access_key|private_key|auth)[A-Za-z0-9_.-]{0,34}["']?[ \t]{0,3}[:=]?[ \t]{0,3}["']?[^\s"'\\,;]{0,200}$/i;
const ASSIGNMENT_WINDOW = 300;

/** `A-Z`, `a-z` and `0-9` in a charset string stand for their ranges; every other character is literal. */
function expandRanges(chars: string): string {
  const span = (from: string, to: string): string => Array.from({ length: to.charCodeAt(0) - from.charCodeAt(0) + 1 }, (_, i) => String.fromCharCode(from.charCodeAt(0) + i)).join('');
  return chars.replace('A-Z', span('A', 'Z')).replace('a-z', span('a', 'z')).replace('0-9', span('0', '9'));
}

/**
 * Characters the detection view drops (format characters, non-ASCII spaces): inside an entity they
 * hide nothing (normalized-view.ts), so they must not end a held run either.
 */
const INVISIBLE = '\u00ad\u00a0\u1680\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u202f' +
  '\u205f\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u3000\ufeff' +
  Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)).join('');
/** Full-width forms of ASCII (U+FF01–U+FF5E) are their ASCII character to the detector. */
const FULL_WIDTH_OFFSET = 0xfee0;

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
      const table = new Uint8Array(65536);
      for (const ch of expandRanges(rule.chars)) {
        table[ch.charCodeAt(0)] = 1;
        if (ch > ' ' && ch <= '~') table[ch.charCodeAt(0) + FULL_WIDTH_OFFSET] = 1;
      }
      for (const ch of INVISIBLE) table[ch.charCodeAt(0)] = 1;
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
    let hold = 0;
    for (const { table, max } of this.charsets) {
      let i = n;
      const stop = Math.max(0, n - max);
      while (i > stop && table[text.charCodeAt(i - 1)] === 1) i--;
      while (i < n && text.charCodeAt(i) === 32) i++; // no entity starts with a space: never hold one back
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
