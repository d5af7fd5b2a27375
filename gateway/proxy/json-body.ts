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

/** The parsed JSON value and the exact bytes it came from. */
export interface JsonBody {
  readonly raw: Buffer;
  readonly value: unknown;
}

/** Deepest nesting of `[`/`{` outside strings; stops early once over `limit`. Bytes are safe: UTF-8 never hides ASCII. */
function nestingDepth(raw: Buffer, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (inString) {
      if (b === 0x5c) i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max && (max = depth) > limit) return max;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return max;
}

/** Parses a request body; 400 invalid_request_error for empty, non-UTF-8, malformed or too deeply nested JSON. */
export function parseJsonBody(raw: Buffer | undefined): JsonBody {
  if (!raw || raw.length === 0) throw new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is empty');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is not valid UTF-8');
  }
  if (nestingDepth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', `request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return { raw, value: JSON.parse(text) };
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
