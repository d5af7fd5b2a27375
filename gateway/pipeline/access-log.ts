import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Fields a route adds to its request's access line (the proxy: decision id, outcome, subject, timings). */
const accessFields = new WeakMap<FastifyRequest, Record<string, unknown>>();

/** Adds fields to the request's one access line; after the line is written, the fields get a line of their own. */
export function addAccessFields(req: FastifyRequest, fields: Record<string, unknown>): void {
  if (logged.has(req)) {
    req.log.info(fields, 'exchange recorded'); // the call ended after its response (a stream the caller left)
    return;
  }
  accessFields.set(req, { ...accessFields.get(req), ...fields });
}

const logged = new WeakSet<FastifyRequest>();

/**
 * One structured access line per request, at info, when its response ends: method, route, status,
 * duration and what the route added. Replaces Fastify's two request lines (incoming, completed)
 * plus the proxy's own: a third of the log volume, and no prompt text or token in any of them.
 */
export function logAccess(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    logged.add(req);
    req.log.info(
      {
        method: req.method,
        route: req.routeOptions.url ?? null,
        status: reply.statusCode,
        response_ms: Math.round(reply.elapsedTime * 100) / 100,
        remote: req.ip,
        ...accessFields.get(req),
      },
      'request',
    );
  });
}
