import type { FastifyInstance } from 'fastify';
import { caller, refuseBodyFields } from './api-caller.ts';
import { mayAccessOwned, visibleOrNotFound } from './authorize.ts';
import type { SessionService } from './session-service.ts';

/**
 * /sluice/api/sessions: administrators list and revoke every session; anyone else sees and may
 * revoke only their own (ending one's own access early is always allowed). Another subject's
 * session is a 404, as in the console: its id is not confirmed.
 */
export async function sessionRoutes(
  app: FastifyInstance,
  deps: { sessions: SessionService; adminGroups: readonly string[] },
): Promise<void> {
  app.get('/', async (req) => {
    const who = caller(req);
    const state = (req.query as { state?: string }).state;
    const all = await deps.sessions.list();
    const visible = all.filter((s) => mayAccessOwned(who, s, deps.adminGroups));
    return { data: visible.filter((s) => state === undefined || s.state === state) };
  });

  app.post('/:id/revoke', { preValidation: refuseBodyFields }, async (req) => {
    const { id } = req.params as { id: string };
    const who = caller(req);
    const session = await deps.sessions.store.get(id);
    visibleOrNotFound(session, (s) => mayAccessOwned(who, s, deps.adminGroups), `no session ${id}`);
    return deps.sessions.revoke(id, who.sub);
  });
}
