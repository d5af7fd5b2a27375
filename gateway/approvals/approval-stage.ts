import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { SluiceError } from '../errors.ts';
import type { Decision } from '../policy/decision.ts';
import type { PolicyInput } from '../policy/input.ts';
import type { RequestFacts } from '../inspect/facts.ts';
import type { ApprovalService } from '../access/approval-service.ts';
import type { Approval } from '../access/approval-store.ts';
import { holdForDecision, type HoldOptions } from './hold.ts';

/** The header a caller resubmits an approved request with. */
export const APPROVAL_HEADER = 'x-sluice-approval-id';

/** What the proxy needs for the approve stage. */
export interface ApprovalGate {
  readonly service: ApprovalService;
  readonly hold: HoldOptions;
}

/** Approvers see the prompt as the policy saw it: detected entities already replaced by [TYPE]. */
const PREVIEW_CHARS = 4000;

/** sha256 (hex) of the exact body bytes: what an approval is bound to. */
export function bodySha256(raw: Buffer | undefined): string {
  return createHash('sha256')
    .update(raw ?? Buffer.alloc(0))
    .digest('hex');
}

/** An approval as the policy input and the audit show it. */
export type ApprovalFacts = NonNullable<PolicyInput['approval']>;

/** The call an approval is about: who asks, through which connection, for which operation, and what it is. */
export interface HeldCall {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly connection: string;
  readonly operation: string;
  readonly decisionId: string;
  readonly facts: RequestFacts;
  /** sha256 of the exact body bytes, computed only when an approval is presented or required. */
  readonly bodyHash: () => string;
  /** Called with each state the approval reaches (requested, approved, used), for the audit. */
  readonly onApproval: (approval: ApprovalFacts) => void;
}

/** The `approval` section of the policy input for `a`. */
export function approvalInput(a: Approval | null): PolicyInput['approval'] {
  return a ? facts(a) : null;
}

/**
 * Before the policy: the approval this call presents in `x-sluice-approval-id`, checked against
 * this exact request (403 when it does not fit); null when the header is absent.
 */
export async function presentedApproval(
  gate: ApprovalGate,
  headers: IncomingHttpHeaders,
  call: HeldCall,
): Promise<Approval | null> {
  const raw = headers[APPROVAL_HEADER];
  if (raw === undefined) return null;
  const id = Array.isArray(raw) ? undefined : raw.trim();
  if (!id || !/^apr_[A-Za-z0-9_-]{1,64}$/.test(id))
    throw new SluiceError('SLUICE_ERR_APPROVAL_INVALID', `${APPROVAL_HEADER} must be one approval id (apr_…)`);
  const approval = await gate.service.matchPresented(id, {
    subject: call.subject,
    connection: call.connection,
    operation: call.operation,
    bodySha256: call.bodyHash(),
  });
  call.onApproval(facts(approval));
  return approval;
}

/**
 * The policy asked for a human: create the approval (or wait on the presented pending one) and
 * hold the connection until it is decided. Returns the approved approval; throws a 403 otherwise.
 */
export async function awaitApproval(
  gate: ApprovalGate,
  res: ServerResponse,
  call: HeldCall,
  decision: Extract<Decision, { kind: 'approval_required' }>,
  presented: Approval | null,
): Promise<Approval> {
  const req = decision.approval;
  if (req.approverGroups.length === 0) {
    throw new SluiceError(
      'SLUICE_ERR_APPROVAL_REQUIRED',
      `approval required (${req.reason}) but the policy names no approver group; request refused`,
    );
  }
  const approval =
    presented?.state === 'pending'
      ? presented
      : await gate.service.request({
          subject: call.subject,
          requesterGroups: [...call.groups],
          connection: call.connection,
          operation: call.operation,
          model: call.facts.model ?? null,
          bodySha256: call.bodyHash(),
          reason: req.reason,
          labels: decision.labels,
          findings: call.facts.findings,
          approverGroups: req.approverGroups,
          ttlSeconds: req.ttlSeconds,
          decisionId: call.decisionId,
          preview: call.facts.text.slice(0, PREVIEW_CHARS),
        });
  call.onApproval(facts(approval));
  const approved = await holdForDecision(gate.service, res, approval, gate.hold);
  call.onApproval(facts(approved));
  return approved;
}

/** After an allow: an approved approval releases this one request and is then used up. */
export async function useApproval(gate: ApprovalGate, approval: Approval | null, call: HeldCall): Promise<void> {
  if (approval?.state !== 'approved') return;
  call.onApproval(facts(await gate.service.use(approval.id, call.decisionId)));
}

function facts(a: Approval): ApprovalFacts {
  return { id: a.id, state: a.state, approver: a.verdict?.approver ?? null };
}
