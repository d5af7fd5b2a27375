import type { FastifyInstance } from 'fastify';
import { caller, refuseBodyFields, VERDICT_BODY } from './api-caller.ts';
import { mayDecide } from './authorize.ts';
import { SluiceError } from '../errors.ts';
import type { GrantService } from './grant-service.ts';

const requestSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['connection', 'duration_minutes', 'reason'],
    properties: {
      connection: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
      duration_minutes: { type: 'integer', minimum: 1 },
      reason: { type: 'string', minLength: 1, maxLength: 2000 },
    },
  },
} as const;

/**
 * /sluice/api/grants: request a time-bounded grant for a connection, list the ones you hold or
 * may decide, approve/deny (another member of the approver groups), revoke early.
 */
export async function grantRoutes(app: FastifyInstance, deps: { grants: GrantService | undefined }): Promise<void> {
  const grants = (): GrantService => {
    if (!deps.grants) throw new SluiceError('SLUICE_ERR_NOT_FOUND', 'access grants are not enabled');
    return deps.grants;
  };
  app.get('/', async (req) => {
    const who = caller(req);
    const list = await grants().visibleTo(who);
    return { data: list.map((g) => ({ ...g, may_decide: g.state === 'requested' && mayDecide(who, g) })) };
  });
  app.post('/', { schema: requestSchema }, async (req, reply) => {
    const body = req.body as { connection: string; duration_minutes: number; reason: string };
    return reply
      .code(201)
      .send(await grants().request(caller(req), body.connection, body.duration_minutes, body.reason));
  });
  for (const verdict of ['approve', 'deny'] as const) {
    app.post(`/:id/${verdict}`, { schema: { body: VERDICT_BODY } }, async (req) => {
      const { id } = req.params as { id: string };
      return grants().decide(id, caller(req), verdict, (req.body as { comment: string }).comment);
    });
  }
  app.post('/:id/revoke', { preValidation: refuseBodyFields }, async (req) => {
    return grants().revoke((req.params as { id: string }).id, caller(req));
  });
}
