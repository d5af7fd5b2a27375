import { join } from 'node:path';
import type { AccessStores } from '../access/create-access.ts';
import type { OwnershipStore } from '../access/ownership.ts';
import type { BatchRequestStore } from '../batches/batch-store.ts';
import type { SluiceConfig } from '../config.ts';
import { ConfigError, isLoopback } from '../config.ts';
import type { ConsoleSignInStore } from '../console/console-sessions.ts';
import { MIGRATIONS } from './migrations.ts';
import { openPglite } from './pglite-db.ts';
import type { PostgresSettings } from './postgres-db.ts';
import { SqlApprovalStore } from './sql-approval-store.ts';
import { SqlBatchRequestStore } from './sql-batch-request-store.ts';
import { SqlConsoleStore } from './sql-console-store.ts';
import { SqlGrantStore } from './sql-grant-store.ts';
import { SqlOwnershipStore } from './sql-ownership-store.ts';
import { SqlSessionStore } from './sql-session-store.ts';
import { SqlUsageStore } from './sql-usage-store.ts';
import { CachedUsageStore } from './cached-usage-store.ts';
import type { UsageStore } from '../usage/usage-store.ts';
import type { StateDb, StateLogger } from './state-db.ts';
import { StateFeed } from './state-feed.ts';

/** Every store of the control-plane state, on one database. */
export interface StateStores extends AccessStores {
  readonly db: StateDb;
  readonly ownership: OwnershipStore;
  /** The requests of Message Batches created through Sluice (their decisions and response masking). */
  readonly batchRequests: BatchRequestStore;
  readonly consoleSignIns: ConsoleSignInStore;
  readonly usage: UsageStore;
  close(): Promise<void>;
}

/** Where the embedded database lives: {stateDir}/db. */
export function embeddedDbDir(config: Pick<SluiceConfig, 'stateDir'>): string {
  return join(config.stateDir, 'db');
}

/** The PostgreSQL settings from `state.postgres` (URL from the file or its env var, TLS default by host). */
export function postgresSettings(config: SluiceConfig, env: NodeJS.ProcessEnv): PostgresSettings | undefined {
  const pg = config.state.postgres;
  if (!pg) return undefined;
  const url = pg.url ?? (pg.urlEnv ? env[pg.urlEnv] : undefined);
  if (!url) throw new ConfigError([`state.postgres: set url, or urlEnv naming a set environment variable`]);
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    throw new ConfigError([`state.postgres.url: not a valid postgres:// URL`]);
  }
  // A Unix socket (no host) or a loopback host never leaves the machine; anything else is TLS-verified.
  const local = host === '' || isLoopback(host);
  return {
    url,
    poolSize: pg.poolSize,
    connectTimeoutMs: pg.connectTimeoutMs,
    statementTimeoutMs: pg.statementTimeoutMs,
    tls: { mode: pg.tls.mode ?? (local ? 'disable' : 'verify-full'), caFile: pg.tls.caFile },
  };
}

/**
 * Opens the state database (PostgreSQL with `state.postgres`, else PGlite under stateDir),
 * migrates it, and builds the stores on it. `memory` is for tests that need no durable state.
 */
export async function openState(
  config: SluiceConfig,
  env: NodeJS.ProcessEnv,
  log: StateLogger,
  options: { readonly memory?: boolean } = {},
): Promise<StateStores> {
  const pg = postgresSettings(config, env);
  const db = pg
    ? await (await import('./postgres-db.ts')).openPostgres(pg, MIGRATIONS, log)
    : await openPglite(options.memory ? 'memory' : { dir: embeddedDbDir(config) }, MIGRATIONS, config.state.embedded);
  let feed: StateFeed;
  try {
    feed = await StateFeed.open(db, config.state.pollIntervalMs, log);
  } catch (err) {
    await db.close();
    throw err;
  }
  // PGlite is locked to this process, so reads on the request path may come from a write-through cache.
  const storeOptions = { singleWriter: db.kind === 'pglite' };
  const approvals = new SqlApprovalStore(db, feed, storeOptions);
  const sessions = new SqlSessionStore(db, log, storeOptions);
  const grants = new SqlGrantStore(db, storeOptions);
  const ownership = new SqlOwnershipStore(db);
  const sqlUsage = new SqlUsageStore(db);
  const usage = storeOptions.singleWriter ? await CachedUsageStore.open(db, sqlUsage, log) : sqlUsage;
  return {
    db,
    approvals,
    sessions,
    grants,
    ownership,
    batchRequests: new SqlBatchRequestStore(db),
    consoleSignIns: new SqlConsoleStore(db),
    usage,
    async close() {
      await Promise.all([approvals.close(), sessions.close(), grants.close(), ownership.close()]);
      if (usage instanceof CachedUsageStore) await usage.close();
      await feed.close();
      await db.close();
    },
  };
}
