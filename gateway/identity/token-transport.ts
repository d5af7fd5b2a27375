/**
 * Where a caller's Sluice token may travel: `Authorization: Bearer <token>` (the SDKs' authToken)
 * or `x-api-key: <token>` (clients that only know an API key, such as ANTHROPIC_API_KEY or Claude
 * Code's apiKeyHelper). Neither header is ever forwarded upstream (upstream/headers.ts); the
 * connection's own credential goes instead.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SluiceError } from '../errors.ts';
import { extractBearerToken } from './token-verifier.ts';

/** A Claude API key's shape: refused with a message that says what Sluice wants instead. */
const ANTHROPIC_KEY = /^sk-ant-/;

/**
 * The token the caller presents. One transport or both carrying the same token; two different
 * credentials are a 400 (which one would be meant is a guess a security gateway must not make),
 * and a Claude API key is refused with a pointer to the right credential.
 */
export function extractToken(headers: IncomingHttpHeaders): string {
  const apiKey = headers['x-api-key'];
  const keyValue = Array.isArray(apiKey) ? undefined : apiKey?.trim();
  if (Array.isArray(apiKey)) throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'send one x-api-key header, not several');
  if (!keyValue) return extractBearerToken(headers.authorization);
  if (ANTHROPIC_KEY.test(keyValue)) {
    throw new SluiceError(
      'SLUICE_ERR_AUTH_INVALID',
      'this is a Claude API key: Sluice accepts only tokens from the identity providers it trusts ' +
        '(sluice token, or your IdP), as Authorization: Bearer or x-api-key',
    );
  }
  if (headers.authorization === undefined) return keyValue;
  const bearer = extractBearerToken(headers.authorization);
  if (bearer !== keyValue) {
    throw new SluiceError(
      'SLUICE_ERR_BAD_REQUEST',
      'Authorization and x-api-key carry different credentials: send your Sluice token in one of them',
    );
  }
  return bearer;
}
