import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** How long a lazy put may wait before it is appended to the file. */
const LAZY_WRITE_MS = 250;

/** Options for DurableRecords.open. */
export interface DurableRecordsOptions {
  /** fdatasync after every write: an acknowledged change survives power loss, not only a crash. */
  readonly sync: boolean;
}

/**
 * A map of records kept in memory and persisted to an append-only JSONL file: every change
 * appends the whole record, and on open the last line per id wins. The file is rewritten
 * compactly on open and whenever stale lines outnumber live ones, through a temp file and a
 * rename so a crash leaves either the old or the new file. A torn last line (crash mid-write)
 * is skipped. Hand-written: the embedded default needs no database, and a later shared store
 * replaces this class behind the same store interfaces.
 */
export class DurableRecords<T extends { readonly id: string }> {
  readonly #records = new Map<string, T>();
  readonly #file: string;
  readonly #sync: boolean;
  #fd: number;
  #lines = 0;
  /** Lazy puts not yet in the file, newest copy per id. */
  readonly #lazy = new Map<string, T>();
  #lazyTimer: NodeJS.Timeout | undefined;
  /** Lines that could not be parsed on open (torn writes), for diagnostics. */
  readonly skippedLines: number;

  private constructor(file: string, options: DurableRecordsOptions) {
    this.#file = file;
    this.#sync = options.sync;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    let skipped = 0;
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const record = JSON.parse(line) as T;
        if (typeof record?.id === 'string') this.#records.set(record.id, record);
        else skipped += 1;
      } catch {
        skipped += 1;
      }
    }
    this.skippedLines = skipped;
    this.#fd = this.#rewrite();
  }

  /** Loads `file` (missing → empty) and compacts it. */
  static open<T extends { readonly id: string }>(
    file: string,
    options: DurableRecordsOptions = { sync: true },
  ): DurableRecords<T> {
    return new DurableRecords<T>(file, options);
  }

  get(id: string): T | undefined {
    return this.#records.get(id);
  }

  values(): T[] {
    return [...this.#records.values()];
  }

  /**
   * Stores `record` (new or replacing the one with its id) and appends it to the file. A `lazy`
   * put is appended within LAZY_WRITE_MS, or with the next plain put or close, and only its
   * newest copy: for frequent changes whose loss is harmless (a session's last use), so they
   * cost no write per change.
   */
  put(record: T, options: { readonly lazy?: boolean } = {}): T {
    this.#records.set(record.id, record);
    if (options.lazy) {
      this.#lazy.set(record.id, record);
      this.#lazyTimer ??= setTimeout(() => this.#writeLazy(), LAZY_WRITE_MS).unref();
      return record;
    }
    this.#lazy.delete(record.id);
    this.#writeLazy();
    this.#append(`${JSON.stringify(record)}\n`, 1);
    return record;
  }

  /** Drops records for which `keep` is false (e.g. long-finished ones) and compacts the file. */
  prune(keep: (record: T) => boolean): number {
    let removed = 0;
    for (const [id, record] of this.#records) {
      if (!keep(record)) {
        this.#records.delete(id);
        removed += 1;
      }
    }
    if (removed > 0) {
      closeSync(this.#fd);
      this.#fd = this.#rewrite();
    }
    return removed;
  }

  close(): void {
    this.#writeLazy();
    closeSync(this.#fd);
  }

  #writeLazy(): void {
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    if (this.#lazy.size === 0) return;
    const lines = [...this.#lazy.values()].map((r) => `${JSON.stringify(r)}\n`).join('');
    const count = this.#lazy.size;
    this.#lazy.clear();
    this.#append(lines, count);
  }

  #append(lines: string, count: number): void {
    writeSync(this.#fd, lines);
    if (this.#sync) fdatasyncSync(this.#fd);
    this.#lines += count;
    if (this.#lines > 2 * this.#records.size + 1000) {
      closeSync(this.#fd);
      this.#fd = this.#rewrite();
    }
  }

  /** Writes the live records to a temp file, renames it over the file and reopens it for appends. */
  #rewrite(): number {
    // Every live record is written below, lazy ones included.
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    this.#lazy.clear();
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    const body = this.values()
      .map((r) => `${JSON.stringify(r)}\n`)
      .join('');
    if (body) writeSync(fd, body);
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.#file);
    this.#lines = this.#records.size;
    return openSync(this.#file, 'a', 0o600);
  }
}
