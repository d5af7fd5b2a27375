/**
 * Audit event shapes. Decision events carry OPA's decision-log fields (decision_id, path, input,
 * result, bundles, timestamp, labels, requested_by, metrics) plus Sluice's own; session records
 * hold what crossed the gateway. Both are chained (seq + prev_hash) by AuditLog.
 */
export const AUDIT_SCHEMA_VERSION = 1;

/** allow | mask (allowed with masking) | deny | approval_required | error (refused before a decision). */
export type Outcome = 'allow' | 'mask' | 'deny' | 'approval_required' | 'error';

interface ChainFields {
  schema_version: number;
  event_id: string;
  /** Per-instance sequence number and hash of the previous event's line: tamper evidence. */
  seq: number;
  prev_hash: string;
  instance_id: string;
}

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
  input: unknown;
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

export interface SessionRecordBody {
  kind: 'session';
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
    /** Why the call failed; `code` is Sluice's own (gateway/errors.ts) when Sluice ended it. */
    error?: { type: string; message: string; code?: string };
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
export interface AccessEventBody {
  kind: 'access';
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
export interface GrantEventBody {
  kind: 'grant';
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

export type AuditEventBody =
  DecisionEventBody | SessionRecordBody | ApprovalEventBody | AccessEventBody | GrantEventBody | AuditRecoveryEventBody;
export type AuditEvent = AuditEventBody & ChainFields;
