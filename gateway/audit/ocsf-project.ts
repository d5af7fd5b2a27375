/**
 * The OCSF projection of Sluice's audit events (docs/ocsf.md has the field-by-field table). Pure functions of the
 * event bodies: the sink wrapper (ocsf-sink.ts) only keeps each call's decision until its exchange record arrives.
 *
 *   exchange record (+ its decision)     → API Activity (6003), one per call
 *   decision event                       → folded into that API Activity (a batch request's: its own API Activity)
 *   JIT session opened / revoked         → Authorize Session (3003)
 *   access grant, approval state change  → User Access Management (3005), the approver as actor
 *   refused token                        → Authentication (3002), status Failure, never the token
 *   audit file recovery                  → Event Log Activity (1008)
 */
import { operationNamed } from '../operations/operation-table.ts';
import type {
  ApprovalEventBody,
  AuditEvent,
  AuditEventBody,
  AuditRecoveryEventBody,
  AuthenticationEventBody,
  DecisionEventBody,
  GrantAccessEventBody,
  SessionAccessEventBody,
  Outcome,
} from './events.ts';

/** The OCSF release every event states in `metadata.version`; test/fixtures/ocsf/<it> holds its JSON Schemas. */
export const OCSF_VERSION = '1.8.0';

/** The exchange record's body: the one line to change when its kind is renamed. */
export type ExchangeRecordBody = Extract<AuditEventBody, { kind: 'exchange' }>;
const EXCHANGE_KIND: ExchangeRecordBody['kind'] = 'exchange';

/** Whether an event is a call's exchange record. */
export function isExchangeRecord(
  event: AuditEvent,
): event is Extract<AuditEvent, { kind: ExchangeRecordBody['kind'] }> {
  return event.kind === EXCHANGE_KIND;
}

/** One OCSF event: the class and type ids every class requires, the rest as the class defines it. */
export interface OcsfEvent {
  readonly class_uid: number;
  readonly type_uid: number;
  readonly [attribute: string]: unknown;
}

/** What the projection says about the product that logged the event. */
export interface OcsfContext {
  readonly productVersion: string;
}

/** Chain fields the metadata carries: the source event's id, sequence and instance. */
type Chain = Pick<AuditEvent, 'event_id' | 'seq' | 'instance_id' | 'schema_version'>;

/** What the API Activity of a call takes from its decision event (kept until the exchange record comes). */
export interface DecisionFacts {
  readonly decisionId: string;
  readonly outcome: Outcome;
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly issuerName: string | null;
  readonly clientId: string | null;
  readonly groups: readonly string[];
  readonly sourceAddress: string;
  readonly bundleRevision: string | null;
  readonly rule: string | null;
  readonly reasons: readonly string[];
  /** Entity counts the detectors found in the request, by type (before masking or refusal). */
  readonly findings: Readonly<Record<string, number>>;
  readonly model: string | null;
  readonly approvalId: string | null;
}

// ---- small readers of the decision's `input`/`result`, which events.ts types as unknown ----

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function counts(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'number' && v > 0) out[k] = v;
  return out;
}

/** The facts of a decision event the API Activity needs; the prompt itself is never read. */
export function decisionFacts(d: DecisionEventBody): DecisionFacts {
  const identity = field(d.input, 'identity');
  const request = field(d.input, 'request');
  const groups = field(identity, 'groups');
  // Schema 1 keeps findings beside the prompt text; schema 2 replaces the text by {sha256, length, findings}.
  const findings = field(request, 'findings') ?? field(field(request, 'text'), 'findings');
  return {
    decisionId: d.decision_id,
    outcome: d.outcome,
    subject: d.subject,
    issuer: str(field(identity, 'iss')),
    issuerName: str(field(identity, 'issuer_name')),
    clientId: str(field(identity, 'client_id')),
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
    sourceAddress: d.requested_by,
    bundleRevision: d.bundles.sluice?.revision ?? Object.values(d.bundles)[0]?.revision ?? null,
    rule: str(field(field(d.result, 'labels'), 'rule')),
    reasons: d.reasons,
    findings: counts(findings),
    model: str(field(request, 'model')),
    approvalId: str(field(d.approval, 'id')),
  };
}

// ---- shared pieces ----

const PRODUCT_NAME = 'Sluice';
const VENDOR_NAME = 'Sluice';

function metadata(e: Chain & { kind: string }, ctx: OcsfContext, profiles: readonly string[], correlation?: string) {
  return {
    version: OCSF_VERSION,
    product: { name: PRODUCT_NAME, vendor_name: VENDOR_NAME, version: ctx.productVersion, uid: 'sluice' },
    uid: e.event_id,
    sequence: e.seq,
    log_name: 'sluice.audit',
    log_provider: e.instance_id,
    event_code: e.kind,
    profiles: [...profiles],
    ...(correlation ? { correlation_uid: correlation } : {}),
  };
}

function classFields(category: [number, string], cls: [number, string], activity: [number, string]) {
  return {
    category_uid: category[0],
    category_name: category[1],
    class_uid: cls[0],
    class_name: cls[1],
    activity_id: activity[0],
    activity_name: activity[1],
    type_uid: cls[0] * 100 + activity[0],
    type_name: `${cls[1]}: ${activity[1]}`,
  };
}

const IAM: [number, string] = [3, 'Identity & Access Management'];
const APPLICATION: [number, string] = [6, 'Application Activity'];
const SEVERITY = { 1: 'Informational', 2: 'Low', 3: 'Medium' } as const;

function severity(id: keyof typeof SEVERITY) {
  return { severity_id: id, severity: SEVERITY[id] };
}

function status(ok: boolean | null) {
  if (ok === null) return { status_id: 0, status: 'Unknown' };
  return ok ? { status_id: 1, status: 'Success' } : { status_id: 2, status: 'Failure' };
}

function millis(iso: string | null): number | undefined {
  const t = iso === null ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
}

/** A user as OCSF names one: a service account when the token was issued to the client itself (sub = client_id). */
function ocsfUser(uid: string, facts?: DecisionFacts) {
  const service = facts?.clientId !== undefined && facts.clientId !== null && facts.clientId === uid;
  return {
    uid,
    name: uid,
    ...(service ? { type_id: 4, type: 'Service' } : { type_id: 1, type: 'User' }),
    ...(facts && facts.groups.length > 0 ? { groups: facts.groups.map((name) => ({ name })) } : {}),
  };
}

/** A caller that could not be established (a refused token): OCSF requires a user all the same. */
const UNKNOWN_USER = { name: 'unknown', type_id: 0, type: 'Unknown' };

/** Who acted: a verified subject (with issuer and groups when the decision is at hand), else the gateway itself. */
function actorOf(subject: string | null, facts?: DecisionFacts) {
  if (subject === null) return { app_name: PRODUCT_NAME };
  return {
    user: ocsfUser(subject, facts),
    ...(facts?.issuer ? { idp: { uid: facts.issuer, name: facts.issuerName ?? facts.issuer } } : {}),
    ...(facts?.clientId ? { app_uid: facts.clientId } : {}),
  };
}

// ---- API Activity ----

/**
 * What the gateway did with the call: OCSF has no "masked" or "held for approval" disposition, so masking is
 * action Modified with disposition Corrected (the pairing OCSF's action_id description names), and a call that
 * ended still waiting for an approver is Denied / Delayed (an approved one ends as the decision after approval).
 */
const DISPOSITION: Record<Outcome, { action_id: number; action: string; disposition_id: number; disposition: string }> =
  {
    allow: { action_id: 1, action: 'Allowed', disposition_id: 1, disposition: 'Allowed' },
    mask: { action_id: 4, action: 'Modified', disposition_id: 11, disposition: 'Corrected' },
    deny: { action_id: 2, action: 'Denied', disposition_id: 2, disposition: 'Blocked' },
    approval_required: { action_id: 2, action: 'Denied', disposition_id: 14, disposition: 'Delayed' },
    error: { action_id: 2, action: 'Denied', disposition_id: 27, disposition: 'Error' },
  };

function dispositionOf(outcome: Outcome, errorCode: string | undefined) {
  // A refused token is an authorization check that failed, the more specific OCSF disposition than Error.
  if (outcome === 'error' && errorCode?.startsWith('SLUICE_ERR_AUTH_')) {
    return { ...DISPOSITION.error, disposition_id: 26, disposition: 'Unauthorized' };
  }
  // The policy allowed the call but its usage budget was spent: the gateway blocked it all the same.
  if (errorCode === 'SLUICE_ERR_BUDGET_EXCEEDED') return DISPOSITION.deny;
  return DISPOSITION[outcome];
}

const OUTCOME_SEVERITY: Record<Outcome, keyof typeof SEVERITY> = {
  allow: 1,
  mask: 1,
  approval_required: 2,
  error: 2,
  deny: 3,
};

/** The API activity an operation is: by its HTTP method, a cancel being an update. */
function apiActivity(operation: string): [number, string] {
  const spec = operationNamed(operation);
  if (spec?.method === 'GET') return [2, 'Read'];
  if (spec?.method === 'DELETE') return [4, 'Delete'];
  if (operation.endsWith('.cancel')) return [3, 'Update'];
  return spec ? [1, 'Create'] : [99, 'Other'];
}

function enrichment(type: string, name: string, value: string, data: Record<string, unknown>) {
  return { type, name, value, data, provider: PRODUCT_NAME };
}

/** Masked entities per type (request and answer together), entities found per type, tokens and cost. */
function callEnrichments(x: ExchangeRecordBody | null, facts: DecisionFacts | undefined, masks: MaskList) {
  const byType = new Map<string, number>();
  for (const m of masks) byType.set(m.type, (byType.get(m.type) ?? 0) + m.count);
  const out = [...byType].map(([type, count]) => enrichment('masked_entities', 'masks_applied', type, { count }));
  for (const [type, count] of Object.entries(facts?.findings ?? {})) {
    out.push(enrichment('detected_entities', 'request.findings', type, { count }));
  }
  const usage = x?.response?.usage;
  if (usage !== null && usage !== undefined && typeof usage === 'object') {
    const cost = x?.cost_usd === undefined ? {} : { cost_usd: x.cost_usd };
    out.push(enrichment('token_usage', 'response.usage', facts?.model ?? 'unknown', { ...usage, ...cost }));
  }
  return out;
}

type MaskList = ExchangeRecordBody['masks_applied'];

function policyOf(facts: DecisionFacts | undefined, path: string | null) {
  if (!facts || facts.bundleRevision === null) return {};
  const desc = facts.reasons.length > 0 ? { desc: facts.reasons.join('; ') } : {};
  return {
    policy: {
      uid: path ?? 'sluice/decision',
      name: facts.rule ?? path ?? 'sluice/decision',
      type: 'Rego',
      version: facts.bundleRevision,
      is_applied: true,
      ...desc,
    },
  };
}

function httpRequestOf(operation: string) {
  const spec = operationNamed(operation);
  return spec ? { http_request: { http_method: spec.method, url: { path: spec.route } } } : {};
}

/** A call: its exchange record with the decision it had (undefined when that was not seen, e.g. after a restart). */
export function projectExchange(x: ExchangeRecordBody & Chain, facts: DecisionFacts | undefined, ctx: OcsfContext) {
  const code = x.response?.status;
  const errorCode = x.error?.code ?? x.response?.error?.code;
  const ok = x.outcome === 'allow' || x.outcome === 'mask' ? code !== undefined && code < 400 : false;
  const time = millis(x.timestamp) ?? 0;
  const total = x.timings_ms.total;
  const detail = errorCode ?? (facts && facts.reasons.length > 0 ? facts.reasons.join('; ') : undefined);
  const enrichments = callEnrichments(x, facts, x.masks_applied);
  const event: OcsfEvent = {
    ...classFields(APPLICATION, [6003, 'API Activity'], apiActivity(x.operation)),
    ...severity(OUTCOME_SEVERITY[x.outcome]),
    time,
    start_time: time,
    ...(total === undefined ? {} : { duration: Math.round(total), end_time: time + Math.round(total) }),
    message: `${x.operation} ${x.outcome}${errorCode ? ` (${errorCode})` : ''}`,
    metadata: metadata(x, ctx, ['security_control'], x.decision_id),
    actor:
      x.subject === null
        ? { user: UNKNOWN_USER }
        : { ...actorOf(x.subject, facts), ...(x.session_id ? { session: { uid: x.session_id } } : {}) },
    api: {
      operation: x.operation,
      service: { name: 'Claude API', ...(x.connection ? { uid: x.connection } : {}) },
      request: { uid: x.decision_id },
      ...(code === undefined
        ? {}
        : {
            response: {
              code,
              ...(errorCode ? { error: errorCode } : {}),
              ...(x.error?.message ? { error_message: x.error.message } : {}),
            },
          }),
    },
    src_endpoint: facts ? { ip: facts.sourceAddress } : { name: 'unknown' },
    ...httpRequestOf(x.operation),
    ...(code === undefined ? {} : { http_response: { code } }),
    ...status(ok),
    ...(code === undefined ? {} : { status_code: String(code) }),
    ...(detail ? { status_detail: detail } : {}),
    ...dispositionOf(x.outcome, errorCode),
    ...policyOf(facts, 'sluice/decision'),
    ...(enrichments.length > 0 ? { enrichments } : {}),
    unmapped: {
      sluice: {
        schema_version: x.schema_version,
        outcome: x.outcome,
        timings_ms: x.timings_ms,
        ...(facts?.approvalId ? { approval_id: facts.approvalId } : {}),
        ...(x.response ? { stream: x.response.stream } : {}),
      },
    },
  };
  return event;
}

/**
 * A request of a Message Batch: decided on its own, it has no exchange record (the batch call has), so its
 * decision is its API Activity, correlated with the batch call by `metadata.correlation_uid`.
 */
export function projectBatchRequest(d: DecisionEventBody & Chain, ctx: OcsfContext): OcsfEvent {
  const facts = decisionFacts(d);
  const time = millis(d.timestamp) ?? 0;
  const enrichments = callEnrichments(null, facts, d.masks_applied);
  return {
    ...classFields(APPLICATION, [6003, 'API Activity'], [1, 'Create']),
    ...severity(OUTCOME_SEVERITY[d.outcome]),
    time,
    message: `messages.batches request ${d.custom_id ?? ''} ${d.outcome}`,
    metadata: metadata(d, ctx, ['security_control'], d.batch_decision_id ?? d.decision_id),
    actor: actorOf(d.subject, facts),
    api: {
      operation: 'messages.create',
      service: { name: 'Claude API' },
      request: { uid: d.decision_id, ...(d.custom_id ? { data: { custom_id: d.custom_id } } : {}) },
    },
    src_endpoint: { ip: d.requested_by },
    // How the request ended is known only from the batch's results, not from this event.
    ...status(null),
    ...dispositionOf(d.outcome, d.error?.code),
    ...policyOf(facts, d.path),
    ...(enrichments.length > 0 ? { enrichments } : {}),
    unmapped: { sluice: { schema_version: d.schema_version, outcome: d.outcome, custom_id: d.custom_id } },
  };
}

// ---- IAM classes ----

/** A JIT session opened (privileges on a connection assigned) or revoked (idle, or by an admin). */
export function projectAccess(a: SessionAccessEventBody & Chain, ctx: OcsfContext): OcsfEvent {
  const time = millis(a.timestamp) ?? 0;
  const activity: [number, string] = a.state === 'opened' ? [1, 'Assign Privileges'] : [99, 'Revoke'];
  return {
    ...classFields(IAM, [3003, 'Authorize Session'], activity),
    ...severity(1),
    time,
    message: `JIT session ${a.session_id} ${a.state} on connection ${a.connection}`,
    metadata: metadata(a, ctx, []),
    user: ocsfUser(a.subject),
    actor: a.actor ? { user: ocsfUser(a.actor) } : actorOf(a.state === 'opened' ? a.subject : null),
    privileges: [`connection:${a.connection}`],
    session: {
      uid: a.session_id,
      ...(a.state === 'opened' ? { created_time: time } : { expiration_time: time }),
      ...(a.cause ? { expiration_reason: a.cause } : {}),
    },
    ...status(true),
  };
}

const GRANT_ACTIVITY: Record<GrantAccessEventBody['state'], [number, string]> = {
  requested: [99, 'Request'],
  approved: [1, 'Assign Privileges'],
  denied: [99, 'Deny'],
  revoked: [2, 'Revoke Privileges'],
  expired: [2, 'Revoke Privileges'],
};

/** A time-bounded access grant to a connection: requested, approved (privilege assigned), denied, revoked, expired. */
export function projectGrant(g: GrantAccessEventBody & Chain, ctx: OcsfContext): OcsfEvent {
  const expires = millis(g.expires_at);
  return {
    ...classFields(IAM, [3005, 'User Access Management'], GRANT_ACTIVITY[g.state]),
    ...severity(g.state === 'denied' ? 2 : 1),
    time: millis(g.timestamp) ?? 0,
    message: `access grant ${g.grant_id} ${g.state}: ${g.reason}${g.comment ? ` (${g.comment})` : ''}`,
    metadata: metadata(g, ctx, []),
    user: ocsfUser(g.subject),
    actor: actorOf(g.actor ?? (g.state === 'requested' ? g.subject : null)),
    privileges: [`connection:${g.connection}`],
    resources: [
      {
        type: 'sluice.grant',
        uid: g.grant_id,
        name: g.connection,
        data: { state: g.state, ...(expires === undefined ? {} : { expires_at: g.expires_at }) },
      },
    ],
    ...status(g.state !== 'denied'),
  };
}

const APPROVAL_ACTIVITY: Record<ApprovalEventBody['state'], [number, string]> = {
  requested: [99, 'Request'],
  approved: [1, 'Assign Privileges'],
  denied: [99, 'Deny'],
  expired: [2, 'Revoke Privileges'],
  used: [99, 'Use'],
};

/**
 * A human approval of one held call (its exact body): approving assigns the requester the privilege to send that
 * body once; the approver, not the requester, is the actor.
 */
export function projectApproval(a: ApprovalEventBody & Chain, ctx: OcsfContext): OcsfEvent {
  return {
    ...classFields(IAM, [3005, 'User Access Management'], APPROVAL_ACTIVITY[a.state]),
    ...severity(a.state === 'denied' ? 2 : 1),
    time: millis(a.timestamp) ?? 0,
    message: `approval ${a.approval_id} ${a.state}: ${a.reason}${a.comment ? ` (${a.comment})` : ''}`,
    metadata: metadata(a, ctx, [], a.decision_id ?? undefined),
    user: ocsfUser(a.subject),
    actor: a.actor ? { user: ocsfUser(a.actor) } : actorOf(null),
    privileges: [`connection:${a.connection}:approved-call`],
    resources: [
      {
        type: 'sluice.approval',
        uid: a.approval_id,
        name: a.connection,
        data: {
          state: a.state,
          body_sha256: a.body_sha256,
          approver_groups: a.approver_groups,
          expires_at: a.expires_at,
          ...(a.decision_id ? { decision_id: a.decision_id } : {}),
        },
      },
    ],
    ...status(a.state !== 'denied' && a.state !== 'expired'),
  };
}

/** A refused token: a failed logon (OpenID Connect bearer), with the reason code and the unverified issuer. */
export function projectAuthentication(a: AuthenticationEventBody & Chain, ctx: OcsfContext): OcsfEvent {
  return {
    ...classFields(IAM, [3002, 'Authentication'], [1, 'Logon']),
    ...severity(3),
    time: millis(a.timestamp) ?? 0,
    message: `token refused: ${a.reason_code}`,
    metadata: metadata(a, ctx, [], a.decision_id),
    user: UNKNOWN_USER,
    // The issuer the token claims (unverified): who failed to log on is unknown by definition.
    actor: { user: UNKNOWN_USER, ...(a.issuer ? { idp: { uid: a.issuer, name: a.issuer } } : {}) },
    auth_protocol_id: 4,
    auth_protocol: 'OpenID',
    service: { name: 'Claude API', ...(a.connection ? { uid: a.connection } : {}) },
    src_endpoint: { ip: a.source_address },
    ...httpRequestOf(a.operation),
    ...status(false),
    status_code: a.reason_code,
    status_detail: a.reason,
    is_remote: true,
  };
}

/** The audit file was cut back to its last whole line and the torn part moved aside. */
export function projectRecovery(r: AuditRecoveryEventBody & Chain, ctx: OcsfContext): OcsfEvent {
  return {
    ...classFields([1, 'System Activity'], [1008, 'Event Log Activity'], [99, 'Recover']),
    ...severity(3),
    time: millis(r.timestamp) ?? 0,
    message: `audit file ended in a torn line (${r.reason ?? 'no trailing newline'}): moved aside`,
    metadata: metadata(r, ctx, []),
    log_name: 'sluice.audit',
    log_provider: PRODUCT_NAME,
    file: { name: r.file.split('/').at(-1) ?? r.file, path: r.file, type_id: 1, type: 'Regular File' },
    ...status(true),
    unmapped: { sluice: { torn_bytes: r.torn_bytes, torn_sha256: r.torn_sha256, moved_to: r.moved_to } },
  };
}

/**
 * The OCSF event of one audit event, or null for a call's decision event, which the call's API Activity holds
 * (`decision`: that call's facts, looked up by decision id by the caller).
 */
export function toOcsf(event: AuditEvent, decision: DecisionFacts | undefined, ctx: OcsfContext): OcsfEvent | null {
  switch (event.kind) {
    case 'decision':
      return event.custom_id === undefined ? null : projectBatchRequest(event, ctx);
    case EXCHANGE_KIND:
      return projectExchange(event, decision, ctx);
    case 'approval':
      return projectApproval(event, ctx);
    case 'access':
      return event.object === 'grant' ? projectGrant(event, ctx) : projectAccess(event, ctx);
    case 'authentication':
      return projectAuthentication(event, ctx);
    case 'audit_recovery':
      return projectRecovery(event, ctx);
    case 'audit_migration':
      return null; // a rewrite of the trail, not an activity: it stays in the chained file
  }
}
