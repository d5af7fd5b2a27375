import type { AuditLog } from '../audit/audit-log.ts';
import type { SluiceConfig } from '../config.ts';
import { ConfigError } from '../config.ts';
import { GrantService } from './grant-service.ts';
import { SessionService } from './session-service.ts';
import type { Approval, ApprovalStore } from './approval-store.ts';
import { ApprovalService } from './approval-service.ts';
import { webhookNotifier, type WebhookTarget } from './approval-webhook.ts';
import type { GrantStore } from './grant-store.ts';
import type { SessionStore } from './session-store.ts';

/** The stores access control works on, shared by every instance (gateway/store). */
export interface AccessStores {
  readonly approvals: ApprovalStore;
  readonly sessions: SessionStore;
  readonly grants: GrantStore;
}

/** The approval service and how long the proxy holds a call for a human (the proxy's approval gate). */
export interface ApprovalSettings {
  readonly service: ApprovalService;
  readonly hold: { readonly holdMs: number; readonly keepAliveMs: number };
}

/** Logs what the webhook could not deliver (the app's pino logger once it exists). */
export interface WarnLogger {
  warn(obj: object, msg: string): void;
}

/** Approvals and sessions wired from the config, with their sweeper and a clean close. */
export interface AccessControl {
  readonly approvals: ApprovalSettings;
  readonly sessions: SessionService;
  /** Routes webhook failures to `log` (set once the Fastify app exists). */
  useLogger(log: WarnLogger): void;
  /** Answers every held call now (before the server closes, so close does not wait for them). */
  releaseHolds(): void;
  close(): Promise<void>;
}

function webhookTarget(config: SluiceConfig, env: NodeJS.ProcessEnv): WebhookTarget | undefined {
  const hook = config.approvals.webhook;
  if (!hook) return undefined;
  const url = hook.url ?? (hook.urlEnv ? env[hook.urlEnv] : undefined);
  if (!url) throw new ConfigError([`approvals.webhook: set url, or urlEnv naming a set environment variable`]);
  return { url, format: hook.format, timeoutMs: hook.timeoutMs, publicUrl: config.approvals.publicUrl };
}

/**
 * Builds the services on the shared stores and starts one unref'd sweeper that expires
 * approvals, revokes idle sessions and forgets long-ended sessions, approvals and grants, so
 * audit events and listings do not wait for the next request to notice and the state does not
 * grow for ever.
 */
export function createAccessControl(
  config: SluiceConfig,
  audit: AuditLog,
  env: NodeJS.ProcessEnv,
  stores: AccessStores,
): AccessControl {
  const target = webhookTarget(config, env);
  let log: WarnLogger = { warn: (obj, msg) => console.warn(msg, obj) };
  const notify = target ? webhookNotifier(target, { warn: (obj, msg) => log.warn(obj, msg) }) : undefined;
  const { approvals: approvalStore, sessions: sessionStore, grants: grantStore } = stores;
  const service = new ApprovalService(approvalStore, audit, (a: Approval) => notify?.(a));
  const grants = new GrantService(grantStore, audit, {
    ...config.sessions.grants,
    connections: config.connections.map((c) => c.name),
  });
  const sessions = new SessionService(sessionStore, audit, config.sessions.idleTimeoutSeconds, {
    grants,
    unavailableGraceMs: config.state.unavailableGraceSeconds * 1000,
  });
  // A revoked session refuses tokens issued before its revocation: keep it until all of those have expired.
  const retainEndedMs =
    Math.max(
      config.sessions.retainEndedSeconds,
      config.identity.maxTokenLifetimeSeconds + config.identity.clockToleranceSeconds,
    ) * 1000;
  const sweep = setInterval(() => {
    const pruneBefore = new Date(Date.now() - retainEndedMs);
    Promise.all([
      service.expireDue().then(() => service.pruneFinished(pruneBefore)),
      sessions.sweep().then(() => sessions.pruneRevoked(pruneBefore)),
      grants.pruneFinished(pruneBefore),
    ]).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'approval/session sweep failed'));
  }, config.sessions.sweepIntervalSeconds * 1000);
  sweep.unref();
  return {
    approvals: {
      service,
      hold: { holdMs: config.approvals.holdSeconds * 1000, keepAliveMs: config.approvals.keepAliveSeconds * 1000 },
    },
    sessions,
    useLogger(next) {
      log = next;
    },
    releaseHolds() {
      service.releaseHolds();
    },
    /** Stops the sweeper; the stores belong to whoever opened them. */
    async close() {
      clearInterval(sweep);
    },
  };
}
