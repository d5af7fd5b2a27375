import type { FastifyInstance, FastifyReply } from 'fastify';
import { SluiceError } from '../errors.ts';
import type { GrantService } from '../access/grant-service.ts';
import type { AccessGrant } from '../access/grant-store.ts';
import type { ConsoleSession } from './console-sessions.ts';
import { formFields } from './form-fields.ts';
import { grantsPage } from './grant-pages.ts';
import { mayDecide } from '../access/authorize.ts';

/** What the grant pages need from the console plugin. */
export interface GrantPagesDeps {
  /** The same service the REST API uses: every permission check happens there. */
  readonly grants: GrantService | undefined;
  readonly connections: readonly string[];
  readonly isAdmin: (s: ConsoleSession) => boolean;
  readonly page: (reply: FastifyReply, title: string, body: string, s: ConsoleSession) => FastifyReply;
}

const BASE = '/sluice/console/grants';

/** A required, trimmed text field of at most 2000 characters (the API's schema limits). */
function text(value: unknown, field: string): string {
  const v = typeof value === 'string' ? value.trim() : '';
  if (!v || v.length > 2000)
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `a ${field} (up to 2000 characters) is required`);
  return v;
}

/**
 * Access grants in the console, registered inside the console plugin so its sign-in and CSRF
 * hooks (token + Origin on every POST) cover them: list, request, approve/deny, revoke. Who may
 * do what is decided by GrantService alone, exactly as for /sluice/api/grants.
 */
export function grantPages(app: FastifyInstance, deps: GrantPagesDeps): void {
  const grants = (): GrantService => {
    if (!deps.grants) throw new SluiceError('SLUICE_ERR_NOT_FOUND', 'access grants are not enabled');
    return deps.grants;
  };

  /** The service's own visibility, except admins, who see every grant (as on the sessions page). */
  const listFor = async (s: ConsoleSession): Promise<AccessGrant[]> => {
    const service = grants();
    if (!deps.isAdmin(s)) return service.visibleTo(s.identity);
    // get() rather than the raw store so grants past their end show as expired, as visibleTo does.
    const all = await Promise.all((await service.store.list()).map((g) => service.get(g.id)));
    return all.filter((g): g is AccessGrant => g !== undefined);
  };

  app.get('/grants', async (req, reply) => {
    const s = req.consoleSession!;
    const list = await listFor(s);
    const notice = (req.query as { done?: string }).done;
    const decides = (g: AccessGrant): boolean => mayDecide(s.identity, g);
    return deps.page(
      reply,
      'Access grants',
      grantsPage({ grants: list, mayDecide: decides, connections: deps.connections, csrf: s.csrfToken, notice }),
      s,
    );
  });

  app.post('/grants', async (req, reply) => {
    const body = formFields(req, ['connection', 'duration_minutes', 'reason']);
    const connection = body.connection ?? '';
    // Only configured connections: a grant for a name no route serves would never be usable.
    if (!deps.connections.includes(connection))
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `unknown connection ${connection}`);
    const minutes =
      typeof body.duration_minutes === 'string' && /^[1-9][0-9]{0,6}$/.test(body.duration_minutes)
        ? Number(body.duration_minutes)
        : NaN;
    if (!Number.isInteger(minutes))
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'duration_minutes must be a whole number of minutes, at least 1');
    const grant = await grants().request(
      req.consoleSession!.identity,
      connection,
      minutes,
      text(body.reason, 'reason'),
    );
    return reply.redirect(`${BASE}?done=${encodeURIComponent(`${grant.id} ${grant.state}`)}`, 303);
  });

  app.post('/grants/:id/decide', async (req, reply) => {
    const { id } = req.params as { id: string };
    const { verdict, comment } = formFields(req, ['verdict', 'comment']);
    if (verdict !== 'approve' && verdict !== 'deny')
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'verdict must be approve or deny');
    const decided = await grants().decide(id, req.consoleSession!.identity, verdict, text(comment, 'comment'));
    return reply.redirect(`${BASE}?done=${encodeURIComponent(`${decided.id} ${decided.state}`)}`, 303);
  });

  app.post('/grants/:id/revoke', async (req, reply) => {
    formFields(req, []);
    const { id } = req.params as { id: string };
    const revoked = await grants().revoke(id, req.consoleSession!.identity);
    return reply.redirect(`${BASE}?done=${encodeURIComponent(`${revoked.id} ${revoked.state}`)}`, 303);
  });
}
