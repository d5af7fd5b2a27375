import { SluiceError } from '../errors.ts';

// fatal: invalid UTF-8 is refused instead of being silently replaced with U+FFFD, so the
// policy and the upstream always see the same text.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Deepest array/object nesting a request body may have. JSON.parse accepts any depth, but
 * every later step that walks or serializes the value (masking, the audit record) recurses and
 * would die with a RangeError far below the body limit; real requests nest a dozen levels.
 */
export const MAX_JSON_DEPTH = 64;

/** The parsed JSON value, the exact bytes it came from, and the bytes to send upstream. */
export interface JsonBody {
  readonly raw: Buffer;
  readonly value: unknown;
  /**
   * What goes upstream when nothing is masked: the caller's own bytes when every JSON parser reads
   * them as `value`, else `JSON.stringify(value)` (an escaped key, a number JavaScript rounds, a
   * lone surrogate, a byte-order mark), so the upstream gets exactly the document the policy saw.
   */
  readonly forward: Buffer;
}

/** What one pass over the raw bytes found. */
interface Shape {
  /** Deepest nesting, or MAX_JSON_DEPTH + 1 as soon as it is exceeded (the scan then stops). */
  readonly depth: number;
  /** A key that appears twice in one object, with the path of that object. */
  readonly duplicate: { readonly key: string; readonly path: string } | undefined;
  /** True when another parser could read the bytes differently from JSON.parse. */
  readonly ambiguous: boolean;
}

const BACKSLASH = 0x5c;
const QUOTE = 0x22;

/** A byte that continues a number token: digits, sign, point, exponent. */
function isNumberByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45;
}

/** One open array or object during the scan. */
interface Level {
  readonly object: boolean;
  /** Keys seen so far (objects only), decoded: `"\u006dodel"` and `"model"` are the same key. */
  keys: Set<string> | undefined;
  /** Objects: the next string is a key. */
  expectKey: boolean;
  /** The member being read: its key (objects) or index (arrays), for the error's path. */
  member: string | number;
}

function pathOf(stack: readonly Level[]): string {
  let path = '';
  for (let i = 0; i < stack.length - 1; i++) {
    const m = stack[i]!.member;
    path += typeof m === 'number' ? `[${m}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(m) ? `.${m}` : `[${JSON.stringify(m)}]`;
  }
  return path.startsWith('.') ? path.slice(1) : path || 'body';
}

/**
 * A number token whose JavaScript value prints differently (1e3, 1.50, -0, 2^53 + 1) may parse differently upstream.
 */
function numberIsAmbiguous(raw: Buffer, start: number, end: number): boolean {
  const plainInteger = end - start <= 15;
  let i = start;
  if (plainInteger) {
    for (; i < end; i++) {
      const b = raw[i]!;
      if (b === 0x2e || b === 0x65 || b === 0x45) break; // . e E
    }
    if (i === end) return end - start === 2 && raw[start] === 0x2d && raw[start + 1] === 0x30; // -0
  }
  const token = raw.toString('latin1', start, end);
  // 1e400 parses to Infinity, which JSON cannot carry (it would go upstream as null): refused.
  if (!Number.isFinite(Number(token)))
    throw new SluiceError('SLUICE_ERR_BAD_JSON', `number ${token.slice(0, 40)} is out of range`);
  return String(Number(token)) !== token;
}

/**
 * One pass over the bytes, outside and inside strings, that finds what JSON.parse hides:
 * duplicate keys (JSON.parse keeps the last, other parsers the first), nesting depth, and
 * spellings another parser may read differently. Written here because no npm JSON parser
 * reports duplicate keys with their path in one pass without building a second tree.
 * Bytes are safe to scan: UTF-8 never hides ASCII inside a multi-byte character.
 */
function scanShape(raw: Buffer): Shape {
  const stack: Level[] = [];
  let ambiguous = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf; // BOM
  let depth = 0;
  // A string is skipped with native byte searches (memchr) for its closing quote and for the next
  // backslash, not byte by byte: the prompt's text is most of a body, and a JavaScript loop over
  // it was ~1.5% of the gateway's CPU. -1: no backslash from here to the end.
  let backslash = raw.indexOf(BACKSLASH);
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === QUOTE) {
      const start = i + 1;
      let escaped = false;
      for (i = start; ;) {
        const quote = raw.indexOf(QUOTE, i);
        if (backslash !== -1 && backslash < i) backslash = raw.indexOf(BACKSLASH, i);
        if (backslash === -1 || (quote !== -1 && quote < backslash)) {
          i = quote === -1 ? raw.length : quote; // unterminated: JSON.parse reports it
          break;
        }
        escaped = true;
        // \uD800–\uDFFF: a surrogate escape, which parsers treat differently when it is lone.
        if (raw[backslash + 1] === 0x75 && (raw[backslash + 2] === 0x64 || raw[backslash + 2] === 0x44)) {
          const h = raw[backslash + 3]! | 0x20;
          if (h >= 0x38 && h <= 0x66 && !(h > 0x39 && h < 0x61)) ambiguous = true;
        }
        i = backslash + 2; // the escaped character is never the string's end
      }
      const top = stack[stack.length - 1];
      if (top?.object && top.expectKey) {
        if (escaped) ambiguous = true;
        let key: string;
        try {
          key = escaped
            ? (JSON.parse(raw.toString('utf8', start - 1, i + 1)) as string)
            : raw.toString('utf8', start, i);
        } catch {
          continue; // malformed: JSON.parse reports it
        }
        top.keys ??= new Set();
        if (top.keys.has(key)) return { depth, duplicate: { key, path: pathOf(stack) }, ambiguous };
        top.keys.add(key);
        top.member = key;
        top.expectKey = false;
      }
    } else if (b === 0x7b || b === 0x5b) {
      if (stack.length + 1 > depth && (depth = stack.length + 1) > MAX_JSON_DEPTH) break;
      stack.push({ object: b === 0x7b, keys: undefined, expectKey: b === 0x7b, member: 0 });
    } else if (b === 0x7d || b === 0x5d) stack.pop();
    else if (b === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.object) top.expectKey = true;
      else if (top) top.member = (top.member as number) + 1;
    } else if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
      const start = i;
      while (i + 1 < raw.length && isNumberByte(raw[i + 1]!)) i++;
      if (numberIsAmbiguous(raw, start, i + 1)) ambiguous = true;
    }
  }
  return { depth, duplicate: undefined, ambiguous };
}

/**
 * Parses a request body; 400 invalid_request_error for empty, non-UTF-8, malformed or too deeply
 * nested JSON, and for a key that appears twice in one object (JSON.parse would keep the last
 * while an upstream may read the first: the policy must decide on the only reading there is).
 */
export function parseJsonBody(raw: Buffer | undefined): JsonBody {
  if (!raw || raw.length === 0) throw new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is empty');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is not valid UTF-8');
  }
  const shape = scanShape(raw);
  if (shape.depth > MAX_JSON_DEPTH) {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', `request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (shape.duplicate) {
    const { key, path } = shape.duplicate;
    throw new SluiceError('SLUICE_ERR_DUPLICATE_KEY', `${path}: key ${JSON.stringify(key)} appears more than once`);
  }
  return { raw, value, forward: shape.ambiguous ? Buffer.from(JSON.stringify(value), 'utf8') : raw };
}
