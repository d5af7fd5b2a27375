import type { AuditLog } from '../audit/audit-log.ts';
import { boundContent, fieldSlots, type ContentSlot } from '../audit/content-bound.ts';
import type { Outcome, SessionRecordBody } from '../audit/events.ts';
import type { PolicyInput } from '../policy/input.ts';
import { redactRequestForAudit, redactResponseForAudit, withoutCredentials } from '../mask/audit-redaction.ts';
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

/** The policy input with its prompt text (`request.text`) within the content budget; the exchange's copy stays. */
function boundedInput(input: PolicyInput | null, maxContentBytes: number): PolicyInput | null {
  if (!input || Buffer.byteLength(input.request.text, 'utf8') <= maxContentBytes) return input;
  const request: Record<string, unknown> = { ...input.request };
  boundContent([{ holder: request, key: 'text' }], maxContentBytes);
  return { ...input, request: request as unknown as PolicyInput['request'] };
}

type ExchangeContent = Pick<SessionRecordBody, 'request' | 'response'>;

/**
 * The request's and the response body's top-level fields (messages, system, tools; content) within
 * one content budget for the session record, copied where cut so the exchange's own objects stay whole.
 */
function boundedExchange(request: unknown, response: SessionRecordBody['response'], budget: number): ExchangeContent {
  const record: ExchangeContent = { request, response: response && { ...response } };
  const slots = [...slotsOf(record, 'request'), ...(record.response ? slotsOf(record.response, 'body') : [])];
  boundContent(slots, budget);
  return record;
}

/** An object's top-level fields (the object copied, as the bound replaces fields), or the value itself as one slot. */
function slotsOf(holder: object, key: string): ContentSlot[] {
  const h = holder as Record<string, unknown>;
  const value = h[key];
  if (value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return [{ holder: h, key }];
  h[key] = { ...value };
  return fieldSlots(h[key]);
}

/**
 * Writes the decision event, once: when the decision is made, before the call goes upstream
 * (write-ahead, so a crash mid-call still leaves the decision), or with the exchange record for a
 * call refused before any decision. It says what was decided and what the request carried;
 * what happened after (the answer, its masks, an upstream failure) is the exchange record's.
 */
export function recordDecision(audit: AuditLog, ex: Exchange, maxContentBytes: number): void {
  if (ex.decisionRecorded) return;
  ex.decisionRecorded = true;
  const policyNs = ex.timingsMs.policy === undefined ? undefined : Math.round(ex.timingsMs.policy * 1e6);
  audit.record({
    kind: 'decision',
    decision_id: ex.decisionId,
    path: DECISION_PATH,
    input: boundedInput(ex.policyInput ?? null, maxContentBytes),
    result: ex.policyResult ?? null,
    bundles: ex.bundleRevision === undefined ? {} : { sluice: { revision: ex.bundleRevision } },
    timestamp: ex.startedAt.toISOString(),
    labels: { id: audit.instanceId, app: 'sluice' },
    requested_by: ex.requestedBy,
    metrics: policyNs === undefined ? {} : { timer_rego_query_eval_ns: policyNs },
    outcome: outcomeOf(ex),
    subject: ex.identity?.sub ?? null,
    reasons: ex.decision?.reasons ?? (ex.error ? [ex.error.message] : []),
    session_id: ex.session?.id ?? null,
    approval: ex.approval,
    masks_applied: ex.maskPlan?.ledger.entries() ?? [],
    ...(ex.maskedInputPaths.length > 0 ? { masked: ex.maskedInputPaths } : {}),
    ...(ex.error ? { error: { code: ex.error.code, message: ex.error.message } } : {}),
  });
}

/**
 * Writes the exchange record (kind `session`) when the call ends, however it ends (success,
 * refusal, upstream failure, caller gone), and the decision event first if the call never got
 * one, so each request leaves exactly one of each in the audit log. Returns the final outcome.
 */
export function recordExchange(audit: AuditLog, ex: Exchange, maxContentBytes: number): Outcome | undefined {
  if (ex.audited) return undefined;
  ex.audited = true;
  ex.mark('total');
  recordDecision(audit, ex, maxContentBytes);
  const subject = ex.identity?.sub ?? null;
  const outcome = outcomeOf(ex);
  audit.record({
    kind: 'session',
    decision_id: ex.decisionId,
    timestamp: ex.startedAt.toISOString(),
    subject,
    session_id: ex.session?.id ?? null,
    connection: ex.connection?.name ?? null,
    operation: ex.operation,
    outcome,
    masks_applied: ex.maskPlan?.ledger.entries() ?? [],
    ...(ex.error ? { error: { code: ex.error.code, message: ex.error.message } } : {}),
    // Never a raw entity value in the audit, even one the policy let through (DESIGN.md: raw content is never written).
    // The detect stage scanned these same places: a request it found nothing in needs no second scan.
    // Bounded after redaction: a truncation marker's sha256 is of the masked content.
    ...boundedExchange(
      withoutCredentials(
        ex.detectorKit && requestHasFindings(ex)
          ? redactRequestForAudit(ex.forwardedBody ?? null, ex.detectorKit)
          : (ex.forwardedBody ?? null),
      ),
      ex.detectorKit && ex.responseMayHoldEntities ? redactResponseForAudit(ex.response, ex.detectorKit) : ex.response,
      maxContentBytes,
    ),
    timings_ms: ex.timingsMs,
  });
  return outcome;
}
