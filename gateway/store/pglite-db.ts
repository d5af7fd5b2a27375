import { PGlite } from '@electric-sql/pglite';
import { execFile } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
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

// initdb inside PGlite takes 1–2 s, and what it and the unpacking of a data directory leave behind
// stays in the process that ran them (~350 MB). A child process (gateway/bin/pglite-init.mjs)
// makes a migrated template once per process instead, as a data directory and its dump (a tar);
// a new database is a copy of the directory (~0.1 s), or in memory the dump loaded.
const INIT_SCRIPT = fileURLToPath(new URL('../../gateway/bin/pglite-init.mjs', import.meta.url));
let template: Promise<Template> | undefined;

async function initProcess(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync(process.execPath, [INIT_SCRIPT, ...args], { maxBuffer: 1 << 20 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`cannot make the embedded state database: ${stderr || String(err)}`, { cause: err });
  }
}

/** A fresh, migrated cluster: its data directory and its dump. */
export interface Template {
  readonly dir: string;
  readonly tar: string;
}

/** A template's directory: `sluice-pglite-<pid of the process that made it>-<random>`. */
const TEMPLATE_PREFIX = 'sluice-pglite-';
const TEMPLATE_NAME = /^sluice-pglite-(\d+)-[^/]+$/;

/**
 * Removes the templates (~80 MB each) of this user's processes that are gone. A process removes
 * its own on exit, but one ended by a signal (a test runner's worker, a killed gateway) never
 * gets there, and their templates filled a development disk. Best effort: a template whose pid
 * was reused stays until a later sweep; one that cannot be read or removed is left alone.
 */
export function sweepOrphanTemplates(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = TEMPLATE_NAME.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || alive(Number(pid))) continue;
    const path = join(root, name);
    try {
      const stat = lstatSync(path);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed meanwhile, or not ours to remove.
    }
  }
}

/**
 * The template, in a temporary directory removed when this process exits. Made once per
 * process, with the migrations of the first caller.
 */
function templateOf(migrations: readonly Migration[]): Promise<Template> {
  template ??= (async () => {
    sweepOrphanTemplates(tmpdir());
    const tmp = mkdtempSync(join(tmpdir(), `${TEMPLATE_PREFIX}${process.pid}-`));
    process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
    const made = { dir: join(tmp, 'db'), tar: join(tmp, 'db.tar') };
    const script = join(tmp, 'schema.json');
    writeFileSync(script, JSON.stringify(freshSchemaStatements(migrations)), { mode: 0o600 });
    await initProcess(['template', made.dir, made.tar, JSON.stringify(serverConf(DEFAULT_PGLITE_SETTINGS)), script]);
    return made;
  })();
  template.catch(() => (template = undefined));
  return template;
}

/**
 * The template, made again when something removed it from the temp directory meanwhile (a temp
 * cleaner under a long-running gateway).
 */
async function presentTemplate(migrations: readonly Migration[]): Promise<Template> {
  const made = await templateOf(migrations);
  if (existsSync(made.dir) && existsSync(made.tar)) return made;
  if (template && (await template) === made) template = undefined;
  return templateOf(migrations);
}

/** Where this process keeps its template now, if it has made one (for tests). */
export async function embeddedTemplate(): Promise<Template | undefined> {
  return template?.catch(() => undefined);
}

/** A new data directory at `dir`, copied from the template through a temporary name (no half-made one). */
async function copyTemplate(migrations: readonly Migration[], dir: string): Promise<void> {
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  cpSync((await presentTemplate(migrations)).dir, partial, { recursive: true });
  renameSync(partial, dir);
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
    const loadDataDir = new Blob([readFileSync((await presentTemplate(migrations)).tar)]);
    return PGlite.create({ postgresqlconf: conf, loadDataDir });
  }
  if (!existsSync(location.dir)) await copyTemplate(migrations, location.dir);
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
