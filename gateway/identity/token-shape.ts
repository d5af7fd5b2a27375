/**
 * Structural checks on a compact JWT made before any key lookup or cryptography: a size cap,
 * the three-part base64url shape, and unique member names in header and payload. They are
 * cheap, so a hostile token is turned away without costing a JWKS fetch or a signature check.
 */
import { SluiceError } from '../errors.ts';

/** Tokens longer than this are refused before any parsing (real access tokens are a few KiB). */
export const MAX_TOKEN_BYTES = 16 * 1024;

// header.payload.signature, base64url without padding. An empty signature still passes here so
// that an unsecured (`alg: none`) token is refused by the algorithm check, with that reason.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// Names echoed in an error must be harmless: the token is not verified yet, so it is attacker text.
const ECHOABLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A 401 SLUICE_ERR_AUTH_INVALID whose message says why, never quoting the token. */
export function invalidToken(reason: string, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_ERR_AUTH_INVALID', `invalid token: ${reason}`, { cause });
}

/**
 * The first member name that occurs twice in one object of `json`, at any depth, compared after
 * unescaping (`"sub"` and `"su\u0062"` are the same name). `json` must already be valid JSON.
 */
export function findDuplicateMember(json: string): string | undefined {
  // One entry per open container, innermost last: the names seen so far, or undefined for an array.
  const open: (Set<string> | undefined)[] = [];
  let expectName = false;
  for (let i = 0; i < json.length; i += 1) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (expectName) {
        const name = JSON.parse(json.slice(i, end + 1)) as string;
        const seen = open.at(-1) as Set<string>;
        if (seen.has(name)) return name;
        seen.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectName = true;
    } else if (c === '[') {
      open.push(undefined);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectName = open.at(-1) !== undefined;
    }
  }
  return undefined;
}

/**
 * Throws 401 SLUICE_ERR_AUTH_INVALID unless `token` is a plausibly sized compact JWS whose
 * header and payload are JSON objects without duplicate member names, and whose header has no `crit`.
 * RFC 7515/7519 allow a parser to keep the last duplicate instead, but parsers disagree (first wins, last wins), and
 * a token that means different things to the IdP, to Sluice and to the audit trail is refused.
 */
export function checkTokenShape(token: string): void {
  // Length before anything else: O(1), so a megabyte of junk costs nothing.
  if (token.length > MAX_TOKEN_BYTES) throw invalidToken(`token exceeds ${MAX_TOKEN_BYTES} bytes`);
  if (!COMPACT_JWS.test(token)) throw invalidToken('malformed token: expected a signed JWT (three base64url parts)');
  const [header = '', payload = ''] = token.split('.', 2);
  for (const [part, encoded] of [
    ['header', header],
    ['payload', payload],
  ] as const) {
    const json = Buffer.from(encoded, 'base64url').toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw invalidToken(`malformed token: ${part} is not JSON`, err);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalidToken(`malformed token: ${part} is not a JSON object`);
    }
    // Sluice understands no JWS extension, so any `crit` list names one it must not ignore (RFC 7515 §4.1.11).
    if (part === 'header' && Object.hasOwn(parsed, 'crit'))
      throw invalidToken('critical header extensions (crit) are not supported');
    const duplicate = findDuplicateMember(json);
    if (duplicate !== undefined) {
      const name = ECHOABLE_NAME.test(duplicate) ? `"${duplicate}" ` : '';
      throw invalidToken(`duplicate ${name}member in token ${part} (ambiguous, refused)`);
    }
  }
}
