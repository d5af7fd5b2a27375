import type { FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError, toErrorBody } from '../errors.ts';
import type { AuditLog } from './audit-log.ts';

/**
 * An onRequest hook for the root app: while a sink cannot take more events (the Kafka spool is
 * full and `audit.kafka.onSpoolFull` is fail-closed, or the audit file is 64 MiB behind) new proxy calls are
 * refused with 503 before any work is done. Ops and console routes stay up so the state can be seen.
 */
export function auditGate(audit: AuditLog) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!req.url.startsWith('/v1/') && !req.url.startsWith('/c/')) return;
    const status = audit.status();
    if (status.accepting) return;
    const err = new SluiceError('SLUICE_ERR_AUDIT_UNAVAILABLE', `${ERROR_PREFIX}${status.reasons.join('; ')}`);
    req.log.warn({ code: err.code }, 'request refused: audit trail unavailable');
    return reply.code(err.status).header('retry-after', '5').send(toErrorBody(err));
  };
}

const ERROR_PREFIX = 'audit trail unavailable, request refused (fail closed): ';

/** Prometheus text exposition of every sink's metrics, e.g. sluice_audit_kafka_spool_depth_records. */
export function renderAuditMetrics(audit: AuditLog): string {
  const lines: string[] = [];
  for (const sink of audit.status().sinks) {
    lines.push(`sluice_audit_sink_accepting{sink="${sink.name}"} ${sink.accepting ? 1 : 0}`);
    for (const [name, value] of Object.entries(sink.metrics)) {
      const metric = `sluice_audit_${sink.name}_${name}`;
      lines.push(`# TYPE ${metric} ${name.endsWith('_total') ? 'counter' : 'gauge'}`, `${metric} ${value}`);
    }
  }
  return lines.join('\n') + '\n';
}
