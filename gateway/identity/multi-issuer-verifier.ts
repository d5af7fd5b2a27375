/**
 * Several trusted issuers at once (people's IdP, CI, Kubernetes): the token's `iss` picks the
 * issuer's own verifier, which then checks everything (signature with that issuer's keys only,
 * audience, lifetime). An `iss` no issuer is configured for is refused before any key is fetched,
 * so an attacker cannot make Sluice call out to a URL of their choosing.
 */
import { decodeJwt } from 'jose';
import { SluiceError } from '../errors.ts';
import type { Identity, TokenVerifier } from './identity.ts';
import { checkTokenShape, invalidToken } from './token-shape.ts';

/** An `iss` as it may appear in a message: printable, bounded (it is the caller's text). */
function shown(iss: string): string {
  const printable = iss.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 100 ? `${printable.slice(0, 100)}…` : printable;
}

export class MultiIssuerVerifier implements TokenVerifier {
  readonly #byIssuer: ReadonlyMap<string, TokenVerifier>;

  /** `issuers`: issuer URL (exactly as tokens carry it in `iss`) → its verifier. */
  constructor(issuers: ReadonlyMap<string, TokenVerifier>) {
    this.#byIssuer = issuers;
  }

  async verify(token: string): Promise<Identity> {
    checkTokenShape(token);
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw invalidToken('malformed token', err);
    }
    if (typeof iss !== 'string') throw invalidToken('missing required claim "iss"');
    const verifier = this.#byIssuer.get(iss);
    if (!verifier) {
      throw new SluiceError('SLUICE_ERR_AUTH_INVALID', `invalid token: issuer "${shown(iss)}" is not trusted here`);
    }
    return verifier.verify(token);
  }
}
