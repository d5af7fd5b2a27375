import type { FastifyInstance } from 'fastify';
import type { OwnershipStore } from './access/ownership.ts';
import { createAccessControl } from './access/create-access.ts';
import { pino } from 'pino';
import type { AuditLog } from './audit/audit-log.ts';
import { auditGate } from './audit/audit-ops.ts';
import { anchorChainHead } from './audit/chain-anchor.ts';
import { openAuditLog } from './audit/open-audit.ts';
import { ConfigError, devIssuerProblem, usesDevIssuer, type SluiceConfig } from './config.ts';
import { createVerifier, devIssuerUrl } from './identity/create-verifier.ts';
import { DevIssuer } from './identity/dev-issuer.ts';
import { openPolicy } from './policy/load-policy.ts';
import { openState } from './store/open-state.ts';
import { buildApp } from './server.ts';
import { ConnectionRegistry } from './upstream/connections.ts';
import { steadyHeapGrowth } from './ops/heap-growth.ts';
import type { CallTelemetry } from './otlp/call-telemetry.ts';

/** A listening gateway and how to stop it cleanly (audit flushed, upstream pools closed). */
export interface RunningGateway {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly audit: AuditLog;
  readonly devIssuer: DevIssuer | undefined;
  /** Who created which object through this gateway (tests seed and read it; the proxy keeps it). */
  readonly ownership: OwnershipStore;
  close(): Promise<void>;
}

/**
 * Wires the stages from a validated config and starts listening. With no `identity.issuer`
 * Sluice serves its own dev issuer at /dev-issuer; the issuer URL needs the real port, so
 * listening on port 0 is resolved before the issuer is created.
 */
export async function startGateway(
  config: SluiceConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningGateway> {
  // resolveConfig refuses this already; checked again where the dev issuer starts, whatever built the config.
  const noIssuer = devIssuerProblem(config);
  if (noIssuer) throw new ConfigError([noIssuer]);
  steadyHeapGrowth();
  const connections = new ConnectionRegistry(config.connections, config.defaultConnection!, env);
  const policy = await openPolicy(config.policy);
  const policies = policy.store;
  const port =
    !usesDevIssuer(config) || config.listen.port !== 0 ? config.listen.port : await freePort(config.listen.host);
  const devIssuer = usesDevIssuer(config)
    ? await DevIssuer.open({ stateDir: config.stateDir, issuerUrl: devIssuerUrl(config, port) })
    : undefined;
  const verifier = createVerifier(config, config.identity.issuer ?? devIssuer?.issuer, env);
  // File sink always; with audit.kafka / audit.splunk / telemetry.otlp also those (spool leftovers go first).
  const audit = await openAuditLog(config, pino({ level: config.log.level, name: 'sluice-audit' }), env);
  // Listen only once the state database is open and migrated: every call needs its session.
  const state = await openState(config, env, pino({ level: config.log.level, name: 'sluice-state' })).catch(
    async (err: unknown) => {
      await Promise.all([audit.close(), connections.close(), policy.close()]);
      throw err;
    },
  );
  const access = createAccessControl(config, audit, env, state);
  const telemetry = await callTelemetry(config, audit);
  const app = buildApp(config, {
    verifier,
    policies,
    connections,
    audit,
    devIssuer,
    approvals: access.approvals,
    sessions: access.sessions,
    consoleSignIns: state.consoleSignIns,
    usage: state.usage,
    batchRequests: state.batchRequests,
    ownership: state.ownership,
    ...(telemetry ? { telemetry } : {}),
  });
  access.useLogger(app.log);
  app.addHook('onRequest', auditGate(audit)); // root hook: fail closed when the audit spool is full
  // The chain head logged outside the audit log, so an edit or removal of the last events shows
  // (sluice audit verify --head). Its own logger at info: an audit artifact, kept whatever log.level says.
  const anchorLog = pino({ level: 'info', name: 'sluice-audit' });
  const anchors =
    config.audit.anchorIntervalSeconds > 0
      ? anchorChainHead(audit, anchorLog, config.audit.anchorIntervalSeconds * 1000)
      : undefined;
  try {
    await app.listen({ host: config.listen.host, port });
  } catch (err) {
    // Not listening (port taken, not allowed): release what was opened so the process can exit.
    anchors?.close();
    await app.close();
    await access.close();
    await state.close();
    await Promise.all([audit.close(), connections.close(), policy.close()]);
    throw err;
  }
  policy.watch(app.log); // hot reload / bundle polling, only once the gateway runs
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return {
    app,
    url: `http://${host}:${boundPort}`,
    audit,
    devIssuer,
    ownership: state.ownership,
    async close() {
      await policy.close();
      access.releaseHolds();
      await app.close();
      await access.close();
      await state.close(); // after the app: the last touches and approval uses are written
      anchors?.close(); // every event is recorded by now: this is the final head
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

/**
 * Spans and OTLP metrics per call, with `telemetry.otlp` traces or metrics on. The OpenTelemetry
 * SDK and its gRPC exporters are loaded only then: they take ~25 MB of memory otherwise unused.
 */
async function callTelemetry(config: SluiceConfig, audit: AuditLog): Promise<CallTelemetry | undefined> {
  const otlp = config.telemetry.otlp;
  if (!otlp || !(otlp.traces.enabled || otlp.metrics.enabled)) return undefined;
  const { CallTelemetry } = await import('./otlp/call-telemetry.ts');
  return new CallTelemetry(otlp, audit.instanceId, () => audit.status());
}
