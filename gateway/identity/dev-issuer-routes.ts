/**
 * Serves the dev issuer's OIDC discovery document and JWKS. Registered by server.ts under the
 * `/dev-issuer` prefix, so the issuer URL is `http://HOST:PORT/dev-issuer`.
 */
import type { FastifyInstance } from 'fastify';
import type { DevIssuer } from './dev-issuer.ts';

/** Options for devIssuerRoutes. */
export interface DevIssuerRoutesOptions {
  /** Only the public side is needed (a DevIssuer fits): the routes can never reach the private key. */
  readonly issuer: Pick<DevIssuer, 'discoveryDocument' | 'publicJwks'>;
}

/** Fastify plugin: GET /.well-known/openid-configuration and GET /jwks (public data only). */
export async function devIssuerRoutes(app: FastifyInstance, { issuer }: DevIssuerRoutesOptions): Promise<void> {
  // Short cache: the key is stable, but a deleted key file must not linger in clients for long.
  app.get('/.well-known/openid-configuration', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return issuer.discoveryDocument();
  });
  app.get('/jwks', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return issuer.publicJwks();
  });
}
