/**
 * Hot reload of a bundle file: fs.watch on its directory (a deploy that renames a new file into
 * place replaces the inode, which a watch on the file itself would lose) plus a periodic stat,
 * because inotify does not see changes on every filesystem (NFS, some container mounts).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { LoadResult, PolicyLoader } from './policy-loader.ts';

/** Options of FileBundleSource. */
export interface FileBundleSourceOptions {
  readonly path: string;
  readonly loader: PolicyLoader;
  /** Safety-net stat interval. */
  readonly pollMs: number;
  /** Quiet time after a change event before reading, so a writer can finish. */
  readonly settleMs?: number;
}

/** Watches one bundle file and loads every new version through the loader. */
export class FileBundleSource {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private seen = '';
  private checking: Promise<LoadResult | undefined> | undefined;
  private stopped = false;

  constructor(private readonly options: FileBundleSourceOptions) {}

  /** Loads the file once (the start-up load); throws when it is refused, since there is nothing else to serve. */
  async loadInitial(): Promise<void> {
    const result = await this.check(true);
    if (result?.kind === 'refused') throw result.error;
  }

  /** Starts watching; changes are loaded until stop(). */
  start(): void {
    const { path, pollMs } = this.options;
    try {
      this.watcher = watch(dirname(path), (_event, name) => {
        if (name === null || name === basename(path)) this.schedule();
      });
      this.watcher.on('error', () => this.watcher?.close()); // the poll below still runs
    } catch {
      // No watch support here: the periodic stat does the job alone.
    }
    this.timer = setInterval(() => void this.check(false), pollMs);
    this.timer.unref();
  }

  /** Stops watching and waits for a load in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.settle);
    await this.checking;
  }

  /** Throttled, not debounced: a stream of change events (frequent deploys) must not starve the reload. */
  private schedule(): void {
    if (this.settle) return;
    this.settle = setTimeout(() => {
      this.settle = undefined;
      void this.check(false);
    }, this.options.settleMs ?? 150);
    this.settle.unref();
  }

  /** Loads the file when its identity (inode, size, mtime) changed since the last look. */
  private check(initial: boolean): Promise<LoadResult | undefined> {
    if (this.checking) return this.checking.then(() => (this.stopped ? undefined : this.check(initial)));
    this.checking = (async () => {
      const { path, loader } = this.options;
      const s = await stat(path).catch(() => undefined);
      // A missing file (mid-deploy, or deleted) keeps the current bundle; it is not a new one.
      if (!s) {
        if (initial) return { kind: 'refused', error: new Error(`policy bundle ${path} does not exist`) } as const;
        return undefined;
      }
      const id = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (!initial && id === this.seen) return undefined;
      this.seen = id;
      const bytes = await readFile(path).catch(() => undefined);
      return bytes ? loader.load(bytes, path) : undefined;
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }
}
