import type { AuditLog } from '../audit/audit-log.ts';
import type { SluiceError } from '../errors.ts';
import { unverifiedIssuer } from '../identity/unverified-issuer.ts';
import type { Exchange } from './exchange.ts';

/**
 * Records a refused token as an `authentication` audit event: the refusal's code and message, the issuer the
 * token claims (unverified), the caller's address. The token itself is never recorded, nor any other claim.
 */
export function recordAuthenticationFailure(
  audit: AuditLog,
  ex: Exchange,
  token: string | undefined,
  err: SluiceError,
): void {
  audit.record({
    kind: 'authentication',
    outcome: 'failure',
    timestamp: new Date().toISOString(),
    subject: null,
    reason_code: err.code,
    reason: err.message,
    issuer: token === undefined ? null : unverifiedIssuer(token),
    source_address: ex.requestedBy,
    connection: ex.get('connection')?.name ?? null,
    operation: ex.operation.operation,
    decision_id: ex.decisionId,
  });
}
