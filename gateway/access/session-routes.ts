import type { FastifyInstance } from 'fastify';
import { caller, refuseBodyFields } from './api-plugin.ts';
import { SluiceError } from '../errors.ts';
import type { SessionService } from './session-service.ts';

/**
 * /sluice/api/sessions: administrators list and revoke every session; anyone else sees and may
 * revoke only their own (ending one's own access early is always allowed).
 */
export async function sessionRoutes(app: FastifyInstance, deps: { sessions: SessionService; adminGroups: readonly string[] }): Promise<void> {
  const isAdmin = (groups: readonly string[]): boolean => groups.some((g) => deps.adminGroups.includes(g));

  app.get('/', async (req) => {
    const who = caller(req);
    const state = (req.query as { state?: string }).state;
    const all = await deps.sessions.list();
    return { data: all.filter((s) => (isAdmin(who.groups) || s.subject === who.sub) && (state === undefined || s.state === state)) };
  });

  app.post('/:id/revoke', { preValidation: refuseBodyFields }, async (req) => {
    const { id } = req.params as { id: string };
    const who = caller(req);
    const session = await deps.sessions.store.get(id);
    if (!session) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no session ${id}`);
    if (!isAdmin(who.groups) && session.subject !== who.sub) {
      throw new SluiceError('SLUICE_ERR_FORBIDDEN', `only ${deps.adminGroups.join(', ')} may revoke other people's sessions`);
    }
    return deps.sessions.revoke(id, who.sub);
  });
}
