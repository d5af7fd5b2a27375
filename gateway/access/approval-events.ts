import type { ApprovalEventBody } from '../audit/events.ts';
import { SluiceError } from '../errors.ts';
import type { Approval } from './approval-store.ts';

/** The audit event for a state change of `a`: who moved it, when, why, for which exchange. */
export function approvalEvent(
  a: Approval,
  state: ApprovalEventBody['state'],
  by: {
    readonly actor: string | null;
    readonly comment: string | null;
    readonly decisionId: string | null;
    readonly at: Date;
  },
): ApprovalEventBody {
  return {
    kind: 'approval',
    approval_id: a.id,
    state,
    timestamp: by.at.toISOString(),
    subject: a.subject,
    actor: by.actor,
    comment: by.comment,
    decision_id: by.decisionId,
    connection: a.connection,
    reason: a.reason,
    approver_groups: a.approverGroups,
    body_sha256: a.bodySha256,
    expires_at: a.expiresAt,
  };
}

/** The 403 a denied approval answers with: id, policy reason, approver and comment. */
export function deniedError(a: Approval): SluiceError {
  const by = a.verdict ? ` by ${a.verdict.approver}${a.verdict.comment ? `: "${a.verdict.comment}"` : ''}` : '';
  return new SluiceError('SLUICE_ERR_APPROVAL_DENIED', `approval ${a.id} denied${by} (required because ${a.reason})`);
}
