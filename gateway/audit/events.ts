import type { PolicyInput } from '../policy/input.ts';

/**
 * Audit event shapes, schema version 2 (docs/audit-schema.json is generated from these types).
 * Per call: one `decision` (OPA's decision-log fields — decision_id, path, input, result, bundles,
 * timestamp, labels, requested_by, metrics — plus Sluice's own, with the prompt erased from the
 * input) and one `exchange` record (what crossed the gateway: the only event that carries
 * content). Besides: `approval`, `access` (JIT sessions and grants) and `audit_recovery`. Every
 * event is chained (seq + prev_hash) by AuditLog.
 */
export const AUDIT_SCHEMA_VERSION = 2;

/**
 * What a sink receives of the content (prompts, answers): the masked text, only its sha256 and
 * length, or nothing. Raw content is never written anywhere. Each content setting is a chain of
 * its own (the events differ in their bytes), named in every event's `content` field.
 */
export type ContentMode = 'masked' | 'digest' | 'none';

/** What stands in for content a sink does not receive (`content: digest`), or for the prompt in a decision. */
export interface ContentDigest {
  readonly sha256: string;
  /** Length in bytes (UTF-8) of the masked content. */
  readonly length: number;
}

/** allow | mask (allowed with masking) | deny | approval_required | error (refused before a decision). */
export type Outcome = 'allow' | 'mask' | 'deny' | 'approval_required' | 'error';

export interface ChainFields {
  schema_version: number;
  event_id: string;
  /** The content setting of the sink this event was written for: each setting is its own chain. */
  content: ContentMode;
  /** Per-instance sequence number and hash of the previous event's line: tamper evidence. */
  seq: number;
  prev_hash: string;
  instance_id: string;
}

/**
 * The policy input as the decision event keeps it: the prompt text replaced by its digest and the
 * entity findings (as OPA's decision logs erase input paths), named in the event's `erased`.
 */
export type RecordedInput = Omit<PolicyInput, 'request'> & {
  readonly request: Omit<PolicyInput['request'], 'text'> & {
    readonly text: ContentDigest & { readonly findings: Readonly<Record<string, number>> };
  };
};

/**
 * The budget that refused a call (429 SLUICE_ERR_BUDGET_EXCEEDED): its key and window, its limits,
 * what was left of each, and what the call asked for. Only that budget: no other key's counters.
 */
export interface BudgetRefusalRecord {
  key: string;
  window_seconds: number;
  window_start: string;
  limit: { tokens?: number; requests?: number; cost_usd?: number };
  remaining: { tokens?: number; requests?: number; cost_usd?: number };
  requested: { tokens: number; cost_usd: number };
}

export interface DecisionEventBody {
  kind: 'decision';
  decision_id: string;
  path: string;
  /** The input without content; null for a call refused before there was one (bad token, bad JSON). */
  input: RecordedInput | null;
  /** JSON pointers of `input` whose content was replaced by a digest (OPA's decision-log `erased`). */
  erased: readonly string[];
  result: unknown;
  bundles: Record<string, { revision: string }>;
  timestamp: string;
  labels: Record<string, string>;
  requested_by: string;
  metrics: Record<string, number>;
  outcome: Outcome;
  subject: string | null;
  reasons: readonly string[];
  session_id: string | null;
  approval: unknown;
  masks_applied: readonly { type: string; count: number; path: string }[];
  /** JSON pointers of `input` whose entity values were replaced before evaluation (as OPA's decision log `masked`). */
  masked?: readonly string[];
  error?: { code: string; message: string };
  /**
   * A request of a Message Batch: its custom_id, and the decision id of the batch call that
   * carried it (whose exchange record tells how the call ended).
   */
  custom_id?: string;
  batch_decision_id?: string;
  /** The budget that refused the call, when one did. */
  budget?: BudgetRefusalRecord;
}

/** One per call: what crossed the gateway, however the call ended. */
export interface ExchangeRecordBody {
  kind: 'exchange';
  decision_id: string;
  timestamp: string;
  subject: string | null;
  session_id: string | null;
  connection: string | null;
  operation: string;
  /** How the call ended: the decision's outcome, `mask` also when only the answer was masked. */
  outcome: Outcome;
  /** Every mask applied, in the request and in the answer. */
  masks_applied: readonly { type: string; count: number; path: string }[];
  /** Why the call failed after its decision (upstream unavailable, answer too large, caller gone). */
  error?: { code: string; message: string };
  /** The request body as forwarded upstream (after masking, once masking applies). */
  request: unknown;
  response: {
    status: number;
    stream: boolean;
    body: unknown;
    /** For streams: one entry per SSE event with its offset from the first byte. */
    events?: readonly { event: string; at_ms: number }[];
    events_dropped?: number;
    /** Upstream SSE events whose data was not JSON (relayed as they came, masked as plain text). */
    events_malformed?: number;
    usage: unknown;
    /**
     * Why the call failed; `code` is Sluice's own (gateway/errors.ts) when Sluice ended it,
     * `details` the upstream's own (e.g. its `error_code`) when the upstream refused the call.
     */
    error?: { type: string; message: string; code?: string; details?: Record<string, unknown> };
  } | null;
  /** Milliseconds per stage: auth, inspect, policy, upstream_headers, upstream_total, total. */
  timings_ms: Record<string, number>;
  /** What the answer's usage costs at the model's price (pricing.models, else list prices); absent without usage. */
  cost_usd?: number;
  /** The budget that refused the call, when one did. */
  budget?: BudgetRefusalRecord;
}

/** A state change of a human approval (gateway/approvals): who moved it, when and why. */
export interface ApprovalEventBody {
  kind: 'approval';
  approval_id: string;
  state: 'requested' | 'approved' | 'denied' | 'expired' | 'used';
  timestamp: string;
  /** The requester. */
  subject: string;
  /** Who caused the change: the approver, or null for the gateway itself (request, expiry). */
  actor: string | null;
  comment: string | null;
  /** The exchange that requested (or used) the approval. */
  decision_id: string | null;
  connection: string;
  reason: string;
  approver_groups: readonly string[];
  body_sha256: string;
  expires_at: string;
}

/** A JIT session opened or revoked (gateway/access). */
export interface SessionAccessEventBody {
  kind: 'access';
  object: 'session';
  session_id: string;
  state: 'opened' | 'revoked';
  timestamp: string;
  subject: string;
  connection: string;
  /** idle | admin (with actor) | null when opened. */
  cause: string | null;
  actor: string | null;
}

/** A time-bounded access grant requested, decided, revoked or expired (gateway/access). */
export interface GrantAccessEventBody {
  kind: 'access';
  object: 'grant';
  grant_id: string;
  state: 'requested' | 'approved' | 'denied' | 'revoked' | 'expired';
  timestamp: string;
  subject: string;
  connection: string;
  actor: string | null;
  reason: string;
  comment: string | null;
  expires_at: string | null;
}

/**
 * The audit file ended in part of a line at start (a crash or a full disk mid-write), or in a line
 * that is not JSON: that part was moved to `moved_to` and the file cut back to its last whole line.
 * Recorded so the cut is in the chain, not only in a log.
 */
export interface AuditRecoveryEventBody {
  kind: 'audit_recovery';
  timestamp: string;
  /** No caller: the gateway itself recovered the file. */
  subject: null;
  file: string;
  torn_bytes: number;
  torn_sha256: string;
  moved_to: string;
  /** Why it was cut: the file did not end in a newline, or its last line was not JSON. */
  reason?: 'no trailing newline' | 'not JSON';
}

/** JIT session and access grant lifecycle: `object` says which. */
export type AccessEventBody = SessionAccessEventBody | GrantAccessEventBody;

/**
 * First event of a chain that `sluice audit migrate` rewrote from a schema-1 file: the heads of
 * the schema-1 chains it continues (`INSTANCE:SEQ:HASH`), so the old file still verifies the new.
 */
export interface AuditMigrationEventBody {
  kind: 'audit_migration';
  timestamp: string;
  subject: null;
  from_schema_version: number;
  v1_heads: readonly string[];
  source_sha256: string;
}

/**
 * A bearer token the gateway refused (missing, malformed, untrusted issuer, bad signature, expired, or an IdP that
 * could not vouch for it). Never holds the token: only why it was refused and where it came from.
 */
export interface AuthenticationEventBody {
  kind: 'authentication';
  outcome: 'failure';
  timestamp: string;
  /** No verified caller. */
  subject: null;
  /** The refusal's code (gateway/errors.ts): SLUICE_ERR_AUTH_MISSING, _AUTH_INVALID, _AUTH_EXPIRED, … */
  reason_code: string;
  /** Why, as the caller was told (the gateway's own words; a token is never quoted). */
  reason: string;
  /** The token's `iss` claim, UNVERIFIED (printable, at most 256 characters); null when it had none. */
  issuer: string | null;
  /** The caller's address. */
  source_address: string;
  connection: string | null;
  operation: string;
  /** The refused call's decision id: its decision event and exchange record carry the same. */
  decision_id: string;
}

export type AuditEventBody =
  | DecisionEventBody
  | ExchangeRecordBody
  | ApprovalEventBody
  | AccessEventBody
  | AuditRecoveryEventBody
  | AuditMigrationEventBody
  | AuthenticationEventBody;
export type AuditEvent = AuditEventBody & ChainFields;
