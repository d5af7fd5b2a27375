import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { SluiceError } from '../errors.ts';
import type { Decision } from '../policy/decision.ts';
import type { PolicyInput } from '../policy/input.ts';
import type { Exchange } from '../pipeline/exchange.ts';
import type { ApprovalService } from './approval-service.ts';
import type { Approval } from './approval-store.ts';
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
  return createHash('sha256').update(raw ?? Buffer.alloc(0)).digest('hex');
}

/** The `approval` section of the policy input for `a`. */
export function approvalInput(a: Approval | null): PolicyInput['approval'] {
  return a ? { id: a.id, state: a.state, approver: a.verdict?.approver ?? null } : null;
}

/**
 * Before the policy: the approval this call presents in `x-sluice-approval-id`, checked against
 * this exact request (403 when it does not fit); null when the header is absent.
 */
export async function presentedApproval(gate: ApprovalGate, headers: IncomingHttpHeaders, ex: Exchange, bodyHash: () => string): Promise<Approval | null> {
  const raw = headers[APPROVAL_HEADER];
  if (raw === undefined) return null;
  const id = Array.isArray(raw) ? undefined : raw.trim();
  if (!id || !/^apr_[A-Za-z0-9_-]{1,64}$/.test(id)) throw new SluiceError('SLUICE_ERR_APPROVAL_INVALID', `${APPROVAL_HEADER} must be one approval id (apr_…)`);
  const approval = await gate.service.matchPresented(id, { subject: ex.identity!.sub, connection: ex.connection!.name, operation: ex.operation, bodySha256: bodyHash() });
  ex.approval = approvalInput(approval);
  return approval;
}

/**
 * The policy asked for a human: create the approval (or wait on the presented pending one) and
 * hold the connection until it is decided. Returns the approved approval; throws a 403 otherwise.
 */
export async function awaitApproval(
  gate: ApprovalGate,
  res: ServerResponse,
  ex: Exchange,
  decision: Extract<Decision, { kind: 'approval_required' }>,
  presented: Approval | null,
  bodyHash: () => string,
): Promise<Approval> {
  const req = decision.approval;
  if (req.approverGroups.length === 0) {
    throw new SluiceError('SLUICE_ERR_APPROVAL_REQUIRED', `approval required (${req.reason}) but the policy names no approver group; request refused`);
  }
  const approval = presented?.state === 'pending'
    ? presented
    : await gate.service.request({
        subject: ex.identity!.sub,
        requesterGroups: ex.identity!.groups,
        connection: ex.connection!.name,
        operation: ex.operation,
        model: ex.facts?.model ?? null,
        bodySha256: bodyHash(),
        reason: req.reason,
        labels: decision.labels,
        findings: ex.facts?.findings ?? {},
        approverGroups: req.approverGroups,
        ttlSeconds: req.ttlSeconds,
        decisionId: ex.decisionId,
        preview: (ex.facts?.text ?? '').slice(0, PREVIEW_CHARS),
      });
  ex.approval = approvalInput(approval);
  const approved = await holdForDecision(gate.service, res, approval, gate.hold);
  ex.approval = approvalInput(approved);
  return approved;
}

/** After an allow: an approved approval releases this one request and is then used up. */
export async function useApproval(gate: ApprovalGate, approval: Approval | null, ex: Exchange): Promise<void> {
  if (approval?.state !== 'approved') return;
  ex.approval = approvalInput(await gate.service.use(approval.id, ex.decisionId));
}
