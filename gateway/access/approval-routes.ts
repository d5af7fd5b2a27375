import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import { caller, VERDICT_BODY } from './api-caller.ts';
import { mayDecide, maySeeDecidable, visibleOrNotFound } from './authorize.ts';
import type { ApprovalService } from './approval-service.ts';
import type { ApprovalState } from './approval-store.ts';

const STATES: readonly ApprovalState[] = ['pending', 'approved', 'denied', 'expired', 'used'];

/**
 * /sluice/api/approvals: list what the caller may decide (or has requested), read one,
 * approve or deny with a comment. The service enforces approver groups and no self-approval.
 */
export async function approvalRoutes(app: FastifyInstance, deps: { approvals: ApprovalService }): Promise<void> {
  app.get('/', async (req) => {
    const state = (req.query as { state?: string }).state;
    if (state !== undefined && !STATES.includes(state as ApprovalState)) {
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `state must be one of ${STATES.join(', ')}`);
    }
    const who = caller(req);
    const list = await deps.approvals.visibleTo(who, state as ApprovalState | undefined);
    return { data: list.map((a) => ({ ...a, may_decide: a.state === 'pending' && mayDecide(who, a) })) };
  });

  app.get('/:id', async (req) => {
    const { id } = req.params as { id: string };
    const who = caller(req);
    const approval = visibleOrNotFound(
      await deps.approvals.get(id),
      (a) => maySeeDecidable(who, a),
      `no approval ${id}`,
    );
    return { ...approval, may_decide: approval.state === 'pending' && mayDecide(who, approval) };
  });

  for (const verdict of ['approve', 'deny'] as const) {
    app.post(
      `/:id/${verdict}`,
      {
        schema: {
          params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] },
          body: VERDICT_BODY,
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const { comment } = req.body as { comment: string };
        return deps.approvals.decide(id, caller(req), verdict, comment);
      },
    );
  }
}
