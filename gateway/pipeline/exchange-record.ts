import type { AuditLog } from '../audit/audit-log.ts';
import type { BudgetRefusalRecord, Outcome, ExchangeRecordBody } from '../audit/events.ts';
import type { MaskApplied } from '../mask/mask-ledger.ts';
import { buildDetectorKit, type DetectorKit } from '../inspect/detector-kit.ts';
import {
  redactBatchForAudit,
  redactRequestForAudit,
  redactResponseForAudit,
  withoutCredentials,
} from '../mask/audit-redaction.ts';
import type { InnerDecision, MaskedInner } from '../batches/batch-decide.ts';
import { BudgetExceeded } from '../usage/budget-stage.ts';
import type { Billed, Exchange } from './exchange.ts';
import type { TraceEntry } from './trace.ts';

const DECISION_PATH = 'sluice/decision';

/** What a finished call amounts to, for the log line and /metrics. */
export interface ExchangeSummary {
  readonly outcome: Outcome;
  readonly operation: string;
  readonly connection: string | null;
  readonly subject: string | null;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly timingsMs: Record<string, number>;
  readonly masks: readonly MaskApplied[];
  readonly approvalState: string | null;
  /** Tokens the answer reported, by kind, with the model's price family; undefined without usage. */
  readonly billed?: Billed;
  /** For spans (gateway/otlp): the call's id, when it arrived, the model asked for and its trace. */
  readonly decisionId: string;
  readonly startedAt: Date;
  readonly model: string | undefined;
  readonly trace: readonly TraceEntry[];
}

/** Which records of one call are written: each exactly once, whichever path ends the call. */
const written = new WeakMap<Exchange, { decision: boolean; exchange: boolean }>();

function progress(ex: Exchange): { decision: boolean; exchange: boolean } {
  let p = written.get(ex);
  if (!p) written.set(ex, (p = { decision: false, exchange: false }));
  return p;
}

function outcomeOf(ex: Exchange): Outcome {
  const d = ex.finalDecision?.decision;
  if (!d) return ex.get('failure')?.status === 403 ? 'deny' : 'error';
  if (d.kind === 'allow') return ex.get('forwardPlan')?.mask.ledger.applied ? 'mask' : 'allow';
  return d.kind;
}

function masksOf(ex: Exchange): MaskApplied[] {
  return ex.get('forwardPlan')?.mask.ledger.entries() ?? [];
}

/** The error the record names: the failure that ended the call, or one the relay reported. */
function errorOf(ex: Exchange): { code: string; message: string } | undefined {
  const err = ex.get('failure') ?? ex.get('relayed')?.error;
  return err ? { code: err.code, message: err.message } : undefined;
}

/** The budget that refused the call, if one did: its key, limits and what was left (that budget only). */
function budgetOf(ex: Exchange): { budget: BudgetRefusalRecord } | Record<string, never> {
  const failure = ex.get('failure');
  return failure instanceof BudgetExceeded ? { budget: failure.budget } : {};
}

/** The answer as the record keeps it: what was relayed, else the error reply the caller got. */
function responseOf(ex: Exchange): ExchangeRecordBody['response'] {
  const relayed = ex.get('relayed');
  if (relayed) return relayed.response;
  const failure = ex.get('failure');
  if (!failure) return null;
  const error = { type: failure.type, message: failure.message, code: failure.code };
  return { status: failure.status, stream: false, body: null, usage: null, error };
}

let builtInKit: DetectorKit | undefined;

/**
 * The detector that clears the record of entity values: the bundle's, or the built-in one for a
 * call refused before a bundle was at hand (no policy loaded yet), so no record is written raw.
 */
function auditKit(ex: Exchange): DetectorKit {
  return ex.get('detection')?.kit ?? (builtInKit ??= buildDetectorKit({}));
}

/**
 * The request as the record keeps it: as forwarded (after masking), else as the caller sent it, entity values cleared.
 */
function recordedRequest(ex: Exchange): unknown {
  const body = ex.get('forwardPlan')?.body ?? ex.get('inspected')?.body?.value ?? null;
  // A batch's prompts are in its requests' params: each is cleared as a messages.create body is.
  if (ex.operation.request === 'batch') return redactBatchForAudit(body, auditKit(ex));
  const detection = ex.get('detection');
  // The detect stage scanned these same places: a request it found nothing in needs no second scan.
  const mayHold = detection === undefined || Object.keys(detection.facts.findings).length > 0;
  return withoutCredentials(mayHold && body !== null ? redactRequestForAudit(body, auditKit(ex)) : body);
}

/**
 * Writes the decision event, once: when the decision is made, before the call goes upstream
 * (write-ahead, so a crash mid-call still leaves the decision), or with the exchange record for a
 * call refused before any decision. It says what was decided and what the request carried;
 * what happened after (the answer, its masks, an upstream failure) is the exchange record's.
 */
export function recordDecision(audit: AuditLog, ex: Exchange): void {
  const p = progress(ex);
  if (p.decision) return;
  p.decision = true;
  recordBatchDecisions(audit, ex);
  const policy = ex.trace.timingsMs().policy;
  const error = errorOf(ex);
  const revision = ex.get('bundleRevision');
  audit.record({
    kind: 'decision',
    decision_id: ex.decisionId,
    path: DECISION_PATH,
    input: ex.finalInput ?? null,
    result: ex.finalDecision?.result ?? null,
    bundles: revision === undefined ? {} : { sluice: { revision } },
    timestamp: ex.startedAt.toISOString(),
    labels: { id: audit.instanceId, app: 'sluice' },
    requested_by: ex.requestedBy,
    metrics: policy === undefined ? {} : { timer_rego_query_eval_ns: Math.round(policy * 1e6) },
    outcome: outcomeOf(ex),
    subject: ex.get('caller')?.identity.sub ?? null,
    reasons: ex.finalDecision?.decision.reasons ?? (error ? [error.message] : []),
    session_id: ex.get('caller')?.session?.id ?? null,
    approval: ex.approval,
    masks_applied: masksOf(ex),
    ...((ex.get('detection')?.maskedInputPaths.length ?? 0) > 0
      ? { masked: ex.get('detection')!.maskedInputPaths }
      : {}),
    ...(error ? { error } : {}),
    ...budgetOf(ex),
  });
}

/** A batch request's outcome: its decision's, `mask` when its masking changed it. */
function innerOutcome(inner: InnerDecision | MaskedInner): Outcome {
  const d = inner.decided.decision;
  if (d.kind !== 'allow') return d.kind;
  return 'plan' in inner && inner.plan.ledger.applied ? 'mask' : 'allow';
}

/**
 * One decision event per request of a Message Batch (the policy decided each as a
 * messages.create), each with its custom_id and its own decision id, written with the batch
 * call's decision event: before the batch goes upstream, or when the batch is refused.
 */
function recordBatchDecisions(audit: AuditLog, ex: Exchange): void {
  const inners: readonly (InnerDecision | MaskedInner)[] = ex.get('batchMasked') ?? ex.get('batch') ?? [];
  const revision = ex.get('bundleRevision');
  const caller = ex.get('caller');
  for (const inner of inners) {
    const { decided, detection } = inner;
    audit.record({
      kind: 'decision',
      decision_id: inner.decisionId,
      path: DECISION_PATH,
      input: decided.input,
      result: decided.result,
      bundles: revision === undefined ? {} : { sluice: { revision } },
      timestamp: ex.startedAt.toISOString(),
      labels: { id: audit.instanceId, app: 'sluice' },
      requested_by: ex.requestedBy,
      metrics: {},
      outcome: innerOutcome(inner),
      subject: caller?.identity.sub ?? null,
      reasons: decided.decision.reasons,
      session_id: caller?.session?.id ?? null,
      approval: null,
      masks_applied: 'plan' in inner ? inner.plan.ledger.entries() : [],
      ...(detection.maskedInputPaths.length > 0 ? { masked: detection.maskedInputPaths } : {}),
      custom_id: inner.item.customId,
      batch_decision_id: ex.decisionId,
    });
  }
}

/**
 * Writes the exchange record (kind `session`) when the call ends, however it ends (success,
 * refusal, upstream failure, caller gone), and the decision event first if the call never got
 * one, so each request leaves exactly one of each in the audit log. Returns what the call
 * amounted to, or undefined if it was already recorded.
 */
export function recordExchange(audit: AuditLog, ex: Exchange): ExchangeSummary | undefined {
  const p = progress(ex);
  if (p.exchange) return undefined;
  p.exchange = true;
  ex.trace.mark('total');
  recordDecision(audit, ex);
  const caller = ex.get('caller');
  const connection = ex.get('connection')?.name ?? null;
  const outcome = outcomeOf(ex);
  const error = errorOf(ex);
  const response = responseOf(ex);
  const timingsMs = ex.trace.timingsMs();
  const masks = masksOf(ex);
  const responseMayHold = ex.get('relayed')?.responseMayHoldEntities ?? true;
  const billed = ex.get('billed');
  audit.record({
    kind: 'exchange',
    decision_id: ex.decisionId,
    timestamp: ex.startedAt.toISOString(),
    subject: caller?.identity.sub ?? null,
    session_id: caller?.session?.id ?? null,
    connection,
    operation: ex.operation.operation,
    outcome,
    masks_applied: masks,
    ...(error ? { error } : {}),
    // Never a raw entity value in the audit, even one the policy let through. The writer bounds
    // the content (after this redaction: a truncation marker's sha256 is of the masked content).
    request: recordedRequest(ex),
    response: responseMayHold ? redactResponseForAudit(response, auditKit(ex)) : response,
    timings_ms: timingsMs,
    ...(billed ? { cost_usd: billed.costMicroUsd / 1e6 } : {}),
    ...budgetOf(ex),
  });
  return {
    outcome,
    operation: ex.operation.operation,
    connection,
    subject: caller?.identity.sub ?? null,
    status: response?.status,
    code: error?.code,
    timingsMs,
    masks,
    approvalState: ex.approval?.state ?? null,
    billed,
    decisionId: ex.decisionId,
    startedAt: ex.startedAt,
    model: ex.get('inspected')?.facts.model,
    trace: ex.trace.entries,
  };
}
