import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError, sendError, toSluiceError } from '../errors.ts';
import { extractToken } from '../identity/token-transport.ts';
import { OPERATIONS, operationNamed } from '../operations/operation-table.ts';
import { Exchange } from './exchange.ts';
import { recordAuthenticationFailure } from './auth-audit.ts';
import type { ProxyDeps } from './proxy-deps.ts';
import { runExchange } from './run-exchange.ts';
import { settleExchange } from './settle-exchange.ts';

declare module 'fastify' {
  interface FastifyRequest {
    exchange?: Exchange;
  }
}

/**
 * The proxy: one plugin, registered at `/` (default connection) and at `/c/:connection`
 * (a named one). Authentication runs in onRequest, before any body byte is read, so an
 * anonymous caller cannot make the gateway buffer or parse anything.
 */
export async function proxyPlugin(app: FastifyInstance, deps: ProxyDeps): Promise<void> {
  // Raw bytes in, parsed in the handler: keeps the exact bytes for forwarding and lets a
  // bad body be audited like any other refusal. Scoped to this plugin only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_req, body, done) =>
    done(null, body),
  );
  // A file upload is not read here: the upload stage streams it to disk once the caller is known
  // (run-exchange.ts), so no multipart body is ever buffered whole.
  app.addContentTypeParser('multipart/form-data', (req, _payload, done) => {
    const shape = req.exchange?.operation.request;
    if (shape === 'upload' || shape === 'skill_upload') return done(null, undefined);
    done(new SluiceError('SLUICE_ERR_UNSUPPORTED_MEDIA'), undefined);
  });

  // The authenticate stage: connection, caller and session are known before any body byte is read,
  // so an anonymous caller or a revoked session's token gets nothing parsed either.
  app.addHook('onRequest', async (req: FastifyRequest) => {
    // Fastify rewrites config.url with the plugin's prefix; the operation name is ours alone.
    const declared = (req.routeOptions.config as { operation?: string }).operation;
    const op = operationNamed(declared);
    if (!op) throw new SluiceError('SLUICE_ERR_INTERNAL', `no operation declared for route ${req.routeOptions.url}`);
    const ex = (req.exchange = new Exchange(op, req.ip));
    const name = (req.params as { connection?: string }).connection;
    const found = deps.connections.get(name);
    if (!found) throw new SluiceError('SLUICE_ERR_UNKNOWN_CONNECTION', `unknown connection "${name}"`);
    const connection = ex.set('connection', found);
    const identity = await ex.trace.stage('auth', async () => {
      let token: string | undefined;
      try {
        token = extractToken(req.headers);
        return await deps.verifier.verify(token);
      } catch (err) {
        // Audited, not only logged: refused tokens are what a SIEM watches for credential stuffing.
        recordAuthenticationFailure(deps.audit, ex, token, toSluiceError(err));
        throw err;
      }
    });
    const entry = await ex.trace.stage('session', () => deps.sessions.enter(identity, connection.name));
    ex.set('caller', { identity, session: entry.facts });
  });

  app.setErrorHandler(async (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const sluiceErr = toSluiceError(err);
    if (sluiceErr.code === 'SLUICE_ERR_INTERNAL') req.log.error({ err }, 'unexpected error in proxy route');
    const ex = req.exchange;
    if (ex) {
      // The first failure ends the call; a later one (e.g. while answering) is only logged.
      if (ex.get('failure') === undefined) ex.set('failure', sluiceErr);
      settleExchange(req, deps, ex);
    }
    if (reply.sent || reply.raw.headersSent) return;
    // Refused before its body arrived: the app's onSend hook closes the connection (server.ts).
    sendError(reply, sluiceErr);
  });

  for (const op of OPERATIONS) {
    app.route({
      method: op.method,
      url: op.route,
      config: { operation: op.operation },
      handler: async (req, reply) => {
        const ex = req.exchange!;
        await runExchange(req, reply, ex, deps);
        settleExchange(req, deps, ex);
      },
    });
  }
}
