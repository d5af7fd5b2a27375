import type { AuditEvent, ContentMode } from './events.ts';

/**
 * Where audit events go (after OPA's one-method log sink). `write` must not block the request:
 * it enqueues; `flush` resolves once everything written so far is durable at the sink.
 */
export interface AuditSink {
  readonly name: string;
  /** What this sink receives of prompts and answers (default masked): each setting is a chain of its own. */
  readonly content?: ContentMode;
  /**
   * `line` is the serialized event; `bytes` the same line in UTF-8 with its newline, encoded once for the hash chain
   * and every sink.
   */
  write(event: AuditEvent, line: string, bytes: Buffer): void;
  flush(): Promise<void>;
  /**
   * Resolves once every event handed over so far has left the process (written to the file, the
   * spool), however many arrive after it: what a write-ahead record waits for. Unlike flush() it
   * cannot be kept waiting by a steady stream of later events. Rejects when the sink cannot take
   * them now (a full disk): the caller must not proceed as if they were recorded.
   */
  written?(): Promise<void>;
  close(): Promise<void>;
  /** Optional state for /readyz and /metrics; a sink that cannot take more work says so here. */
  health?(): SinkHealth;
}

/** A sink's state: `accepting: false` makes the gateway refuse new calls (fail closed). */
export interface SinkHealth {
  readonly name: string;
  readonly accepting: boolean;
  readonly reason?: string;
  /** Gauges and counters, named without prefix (e.g. spool_depth_records). */
  readonly metrics: Readonly<Record<string, number>>;
}
