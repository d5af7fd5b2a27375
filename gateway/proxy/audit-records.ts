import type { AuditLog } from '../audit/audit-log.ts';
import type { Outcome } from '../audit/events.ts';
import { redactRequestForAudit, redactResponseForAudit } from '../mask/audit-redaction.ts';
import type { Exchange } from './exchange.ts';

const DECISION_PATH = 'sluice/decision';

function outcomeOf(ex: Exchange): Outcome {
  const d = ex.decision;
  if (!d) return ex.error?.status === 403 ? 'deny' : 'error';
  if (d.kind === 'allow') return ex.maskPlan?.ledger.applied ? 'mask' : 'allow';
  return d.kind;
}

function requestHasFindings(ex: Exchange): boolean {
  const findings = ex.facts?.findings;
  return findings === undefined || Object.keys(findings).length > 0;
}

/**
 * Writes the exchange's decision event and session record, once. Called on every path out of
 * the proxy route (success, refusal, upstream failure, caller gone), so each request leaves
 * exactly one of each in the audit log.
 */
export function recordExchange(audit: AuditLog, ex: Exchange): Outcome | undefined {
  if (ex.audited) return undefined;
  ex.audited = true;
  ex.mark('total');
  const subject = ex.identity?.sub ?? null;
  const timestamp = ex.startedAt.toISOString();
  const policyNs = ex.timingsMs.policy === undefined ? undefined : Math.round(ex.timingsMs.policy * 1e6);
  const outcome = outcomeOf(ex);
  audit.record({
    kind: 'decision',
    decision_id: ex.decisionId,
    path: DECISION_PATH,
    input: ex.policyInput ?? null,
    result: ex.policyResult ?? null,
    bundles: ex.bundleRevision === undefined ? {} : { sluice: { revision: ex.bundleRevision } },
    timestamp,
    labels: { id: audit.instanceId, app: 'sluice' },
    requested_by: ex.requestedBy,
    metrics: policyNs === undefined ? {} : { timer_rego_query_eval_ns: policyNs },
    outcome,
    subject,
    reasons: ex.decision?.reasons ?? (ex.error ? [ex.error.message] : []),
    session_id: ex.session?.id ?? null,
    approval: ex.approval,
    masks_applied: ex.maskPlan?.ledger.entries() ?? [],
    ...(ex.maskedInputPaths.length > 0 ? { masked: ex.maskedInputPaths } : {}),
    ...(ex.error ? { error: { code: ex.error.code, message: ex.error.message } } : {}),
  });
  audit.record({
    kind: 'session',
    decision_id: ex.decisionId,
    timestamp,
    subject,
    session_id: ex.session?.id ?? null,
    connection: ex.connection?.name ?? null,
    operation: ex.operation,
    // Never a raw entity value in the audit, even one the policy let through (DESIGN.md: raw content is never written).
    // The detect stage scanned these same places: a request it found nothing in needs no second scan.
    request: ex.detectorKit && requestHasFindings(ex) ? redactRequestForAudit(ex.forwardedBody ?? null, ex.detectorKit) : (ex.forwardedBody ?? null),
    response: ex.detectorKit && ex.responseMayHoldEntities ? redactResponseForAudit(ex.response, ex.detectorKit) : ex.response,
    timings_ms: ex.timingsMs,
  });
  return outcome;
}
