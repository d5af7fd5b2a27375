import type { FastifyRequest } from 'fastify';
import { SluiceError } from '../errors.ts';
import { addAccessFields } from './access-log.ts';
import type { Exchange } from './exchange.ts';
import { recordExchange } from './exchange-record.ts';
import type { ProxyDeps } from './proxy-deps.ts';

/**
 * Audits the exchange once; its outcome and decision id (never prompt text or tokens) join the
 * request's one access log line (server.ts). A second call does nothing.
 */
export function settleExchange(req: FastifyRequest, deps: ProxyDeps, ex: Exchange): void {
  const call = recordExchange(deps.audit, ex);
  if (call === undefined) return;
  deps.metrics?.observe(call);
  addAccessFields(req, {
    decision_id: ex.decisionId,
    outcome: call.outcome,
    code: call.code,
    subject: call.subject,
    connection: call.connection,
    timings_ms: call.timingsMs,
  });
}

/**
 * Audit durability `strict`: settles the exchange and waits until its record is written, before
 * the answer's end goes out. A record that cannot be written fails the call's end (fail closed).
 */
export async function settleExchangeWritten(req: FastifyRequest, deps: ProxyDeps, ex: Exchange): Promise<void> {
  settleExchange(req, deps, ex);
  await deps.audit.written().catch((err: unknown) => {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SluiceError(
      'SLUICE_ERR_AUDIT_UNAVAILABLE',
      `audit trail unavailable (fail closed): the call's record could not be written (${reason})`,
    );
  });
}
