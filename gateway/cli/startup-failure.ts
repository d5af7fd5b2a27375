import { ConfigError } from '../config.ts';
import { SluiceError, type SluiceErrorCode } from '../errors.ts';

/** EX_CONFIG (sysexits.h): a supervisor can tell "will not start as configured" from a failure. */
export const EXIT_CONFIG = 78;

/** Why `sluice serve` did not start: a code of the error table, the cause, what to do about it, the exit status. */
export interface StartupFailure {
  readonly code: SluiceErrorCode;
  readonly cause: string;
  readonly fix: string;
  readonly exitCode: number;
}

/** Maps what startGateway threw to a StartupFailure; anything unrecognised is SLUICE_ERR_START_FAILED. */
export function describeStartupFailure(err: unknown): StartupFailure {
  if (err instanceof ConfigError) {
    const fix = 'correct the keys listed (docs/configuration.md lists every key), then start again';
    return { code: err.issues[0]?.code ?? err.code, cause: err.message, fix, exitCode: EXIT_CONFIG };
  }
  if (err instanceof SluiceError && err.code === 'SLUICE_ERR_START_STATE_SCHEMA_NEWER') {
    return {
      code: err.code,
      cause: err.message,
      fix: 'run the Sluice version that migrated the database (or newer), or restore the backup taken before it',
      exitCode: EXIT_CONFIG,
    };
  }
  if (err instanceof SluiceError && err.code === 'SLUICE_ERR_START_STATE_LOCKED') {
    return {
      code: err.code,
      cause: err.message,
      fix: 'stop the other instance, give this one its own stateDir, or set state.postgres to share state',
      exitCode: EXIT_CONFIG,
    };
  }
  if (err instanceof SluiceError && err.code === 'SLUICE_ERR_STATE_UNAVAILABLE') {
    return {
      code: 'SLUICE_ERR_START_FAILED',
      cause: err.message,
      fix: 'start the PostgreSQL server or correct state.postgres (url, tls), then start again',
      exitCode: 1,
    };
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = e.address === undefined ? 'the listen address' : `${e.address}:${e.port}`;
  if (e.code === 'EADDRINUSE') {
    return {
      code: 'SLUICE_ERR_START_PORT_IN_USE',
      cause: `${where} is already in use by another process`,
      fix: 'stop that process, or set listen.port (or listen.host) to a free address',
      // Often transient (an old instance still stopping): a plain failure, which a supervisor retries.
      exitCode: 1,
    };
  }
  if (e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
    return {
      code: 'SLUICE_ERR_START_PORT_DENIED',
      cause: `cannot listen on ${where} (${e.code})`,
      fix: 'use a port above 1023 or grant the capability to bind it, and a listen.host this machine has',
      exitCode: EXIT_CONFIG,
    };
  }
  return {
    code: 'SLUICE_ERR_START_FAILED',
    cause: (err as Error)?.message ?? String(err),
    fix: 'read the cause above; the gateway logs (log.level debug) say which component failed',
    exitCode: 1,
  };
}

/** The three lines `sluice serve` prints to stderr for a failure. */
export function formatStartupFailure(f: StartupFailure): string {
  return `sluice serve: ${f.code}\n  cause: ${f.cause.replace(/\n/g, '\n    ')}\n  fix: ${f.fix}\n`;
}
