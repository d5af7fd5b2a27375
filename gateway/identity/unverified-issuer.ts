import { decodeJwt } from 'jose';
import { MAX_TOKEN_BYTES } from './token-shape.ts';

/** Longest issuer kept: real issuer URLs are far shorter, and this is the caller's text. */
const MAX_ISSUER_CHARS = 256;

/**
 * The `iss` claim of a token that was REFUSED, read without verifying it, for the audit of the refusal (which
 * issuers do refused tokens claim to come from). Printable ASCII only and bounded; null when the token is not a
 * readable JWT or has no string `iss`. Never use it to decide anything: anyone can write any `iss`.
 */
export function unverifiedIssuer(token: string): string | null {
  if (token === '' || token.length > MAX_TOKEN_BYTES) return null;
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return null;
  }
  if (typeof iss !== 'string' || iss === '') return null;
  return iss.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_ISSUER_CHARS);
}
