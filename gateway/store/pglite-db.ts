import { PGlite } from '@electric-sql/pglite';
import { execFile } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SluiceError } from '../errors.ts';
import { freshSchemaStatements, migrate, type Migration } from './migrations.ts';
import { stateUnavailable, type Queryable, type StateDb } from './state-db.ts';

const execFileAsync = promisify(execFile);

/** Where the embedded database lives: a directory (durable), or `memory` (gone on close; tests). */
export type PgliteLocation = { readonly dir: string } | 'memory';

/** Settings of the embedded server (`state.embedded`). */
export interface PgliteSettings {
  /** shared_buffers in MB: PostgreSQL's page cache, resident in the WebAssembly heap. */
  readonly sharedBuffersMb: number;
}

export const DEFAULT_PGLITE_SETTINGS: PgliteSettings = { sharedBuffersMb: 16 };

/** postgresql.conf lines for PGlite (`shared_buffers` is read at start; PGlite's default is 128 MB). */
function serverConf(settings: PgliteSettings): string[] {
  return [`shared_buffers = ${settings.sharedBuffersMb}MB`];
}

// initdb inside PGlite takes 1–2 s. A fresh database is instead unpacked from a template made once
// per process (~0.4 s), which keeps a test suite of many gateways fast. Both are done by a child
// process (gateway/bin/pglite-init.mjs): what they leave behind goes with it.
const INIT_SCRIPT = fileURLToPath(new URL('../../gateway/bin/pglite-init.mjs', import.meta.url));
let template: Promise<string> | undefined;

async function initProcess(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync(process.execPath, [INIT_SCRIPT, ...args], { maxBuffer: 1 << 20 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`cannot make the embedded state database: ${stderr || String(err)}`, { cause: err });
  }
}

/**
 * The dump (a tar) of a fresh, migrated cluster, in a temporary file removed when this process
 * exits. Made once per process, with the migrations of the first caller.
 */
function templateFile(migrations: readonly Migration[]): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pglite-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'template.tar');
    const script = join(dir, 'schema.json');
    writeFileSync(script, JSON.stringify(freshSchemaStatements(migrations)), { mode: 0o600 });
    await initProcess(['template', file, JSON.stringify(serverConf(DEFAULT_PGLITE_SETTINGS)), script]);
    return file;
  })();
  template.catch(() => (template = undefined));
  return template;
}

/**
 * Opens (creating and migrating as needed) the embedded PostgreSQL: PGlite, Postgres compiled
 * to WebAssembly, in this process. Same SQL as a PostgreSQL server, one connection.
 */
export async function openPglite(
  location: PgliteLocation,
  migrations: readonly Migration[],
  settings: PgliteSettings = DEFAULT_PGLITE_SETTINGS,
): Promise<StateDb> {
  let db: PGlite;
  const unlock = location === 'memory' ? () => undefined : lockDir(location.dir);
  try {
    db = await create(location, migrations, serverConf(settings));
  } catch (err) {
    unlock();
    throw err;
  }
  const state = wrap(db, unlock);
  try {
    await migrate(state, migrations);
  } catch (err) {
    await state.close();
    throw err;
  }
  return state;
}

async function create(location: PgliteLocation, migrations: readonly Migration[], conf: string[]): Promise<PGlite> {
  if (location === 'memory') {
    const loadDataDir = new Blob([readFileSync(await templateFile(migrations))]);
    return PGlite.create({ postgresqlconf: conf, loadDataDir });
  }
  if (!existsSync(location.dir)) {
    await initProcess(['unpack', location.dir, await templateFile(migrations), JSON.stringify(conf)]);
  }
  return PGlite.create({ postgresqlconf: conf, dataDir: location.dir });
}

/**
 * One process per embedded database: PGlite has no postmaster to refuse a second one, and two
 * writers would corrupt it. The lock file holds the owner's pid; a lock whose process is gone
 * (a crash) is taken over. Returns the unlock function.
 */
function lockDir(dir: string): () => void {
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  const lock = `${dir}.lock`;
  if (lockedHere.has(lock)) throw lockedBy(dir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      lockedHere.add(lock);
      return () => {
        lockedHere.delete(lock);
        rmSync(lock, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8').trim());
      // Our own pid in a lock this process does not hold: left by an earlier run (pid 1 in a container).
      if (owner > 0 && owner !== process.pid && alive(owner)) throw lockedBy(dir, owner);
      rmSync(lock, { force: true }); // left by a process that is gone
    }
  }
  throw new Error(`cannot take the lock ${lock}`);
}

/** Lock files this process holds. */
const lockedHere = new Set<string>();

function lockedBy(dir: string, pid: number): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_START_STATE_LOCKED',
    `the embedded state database ${dir} is in use by process ${pid}: ` +
      'one instance per stateDir; several instances share state through state.postgres',
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function rowsOf<Row>(run: Promise<{ rows: unknown[] }>): Promise<Row[]> {
  return run.then(
    (r) => r.rows as Row[],
    (err: unknown) => {
      throw stateUnavailable(err);
    },
  );
}

function wrap(db: PGlite, unlock: () => void = () => undefined): StateDb {
  return {
    kind: 'pglite',
    query: <Row>(sql: string, params: readonly unknown[] = []) => rowsOf<Row>(db.query(sql, [...params])),
    transaction: <T>(work: (tx: Queryable) => Promise<T>) =>
      db.transaction((tx) =>
        work({ query: <Row>(sql: string, params: readonly unknown[] = []) => rowsOf<Row>(tx.query(sql, [...params])) }),
      ),
    // In-process: a notification cannot be lost, so there is nothing to reconnect.
    listen: async (channel, onPayload) => {
      const stop = await db.listen(channel, onPayload);
      return async () => {
        if (!db.closed) await stop();
      };
    },
    close: async () => {
      if (!db.closed) await db.close();
      unlock();
    },
  };
}
