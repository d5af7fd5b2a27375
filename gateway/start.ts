import type { FastifyInstance } from 'fastify';
import { AuditLog } from './audit/audit-log.ts';
import { FileAuditSink } from './audit/file-sink.ts';
import type { SluiceConfig } from './config.ts';
import { createVerifier, devIssuerUrl } from './identity/create-verifier.ts';
import { DevIssuer } from './identity/dev-issuer.ts';
import { loadPolicyStore } from './policy/load-policy.ts';
import { buildApp } from './server.ts';
import { ConnectionRegistry } from './upstream/connections.ts';

/** A listening gateway and how to stop it cleanly (audit flushed, upstream pools closed). */
export interface RunningGateway {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly audit: AuditLog;
  readonly devIssuer: DevIssuer | undefined;
  close(): Promise<void>;
}

/**
 * Wires the stages from a validated config and starts listening. With no `identity.issuer`
 * Sluice serves its own dev issuer at /dev-issuer; the issuer URL needs the real port, so
 * listening on port 0 is resolved before the issuer is created.
 */
export async function startGateway(config: SluiceConfig, env: NodeJS.ProcessEnv = process.env): Promise<RunningGateway> {
  const connections = new ConnectionRegistry(config.connections, config.defaultConnection!, env);
  const policies = await loadPolicyStore(config.policy);
  const port = config.identity.issuer || config.listen.port !== 0 ? config.listen.port : await freePort(config.listen.host);
  const devIssuer = config.identity.issuer ? undefined : await DevIssuer.open({ stateDir: config.stateDir, issuerUrl: devIssuerUrl(config, port) });
  const verifier = createVerifier(config, config.identity.issuer ?? devIssuer!.issuer, env);
  const audit = new AuditLog([new FileAuditSink(config.audit.file.path)]);
  const app = buildApp(config, { verifier, policies, connections, audit, devIssuer });
  await app.listen({ host: config.listen.host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return {
    app,
    url: `http://${host}:${boundPort}`,
    audit,
    devIssuer,
    async close() {
      await app.close();
      await Promise.all([audit.close(), connections.close()]);
    },
  };
}

async function freePort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
