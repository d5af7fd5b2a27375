import { SluiceError } from '../errors.ts';

// fatal: invalid UTF-8 is refused instead of being silently replaced with U+FFFD, so the
// policy and the upstream always see the same text.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The parsed JSON value and the exact bytes it came from. */
export interface JsonBody {
  readonly raw: Buffer;
  readonly value: unknown;
}

/** Parses a request body; 400 invalid_request_error for empty, non-UTF-8 or malformed JSON. */
export function parseJsonBody(raw: Buffer | undefined): JsonBody {
  if (!raw || raw.length === 0) throw new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is empty');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is not valid UTF-8');
  }
  try {
    return { raw, value: JSON.parse(text) };
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
