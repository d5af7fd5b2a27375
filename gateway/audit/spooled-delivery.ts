import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent, ContentMode } from './events.ts';
import type { SinkLogger } from './kafka-sink.ts';
import type { AuditSink, SinkHealth } from './sink.ts';
import { spoolRecordOf, type SpoolRecord } from './spool-segments.ts';
import type { Spool } from './spool.ts';

/** How a transport judged a batch it could not deliver. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    /**
     * retry: try the same batch again after a backoff (receiver down, busy, auth to fix);
     * split: the batch as a whole was refused (too large, one bad event): resend one by one;
     * reject: this single event will never be taken: set it aside and move on.
     */
    readonly action: 'retry' | 'split' | 'reject',
  ) {
    super(message);
  }
}

/** What a spooled sink delivers with: one call per batch, resolving once the receiver acknowledged it. */
export interface Transport {
  send(batch: readonly SpoolRecord[]): Promise<void>;
  close?(): Promise<void>;
}

/** Options shared by every sink that delivers through the write-ahead spool. */
export interface SpooledSinkOptions {
  readonly spool: Spool;
  readonly maxSpoolBytes: number;
  /** fail-closed: refuse new calls while the spool is full; fail-open: drop this sink's copy of new events. */
  readonly onSpoolFull: 'fail-closed' | 'fail-open';
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  /** How long close() keeps delivering before it leaves the rest in the spool for the next start. */
  readonly closeTimeoutMs: number;
  /** What this sink receives of prompts and answers (default masked): a chain of its own per setting. */
  readonly content?: ContentMode;
  /** The config section, for messages (`audit.splunk`). */
  readonly configKey: string;
  readonly logger?: SinkLogger;
}

const SILENT: SinkLogger = { info() {}, warn() {}, error() {} };
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5000;

/**
 * An audit sink that never loses an event to a receiver outage: `write` only enqueues on the
 * write-ahead spool (gateway/audit/spool.ts, as the Kafka sink does), and a background loop hands
 * batches in spool order to the transport, committing each only once the receiver acknowledged it,
 * retrying with exponential backoff otherwise. A crash between acknowledgement and commit sends
 * the batch again: at least once, receivers dedupe by `event_id`. The transport says what a
 * failure means ({@link DeliveryError}); anything else thrown is retried.
 */
export class SpooledSink implements AuditSink {
  readonly content: ContentMode;
  private readonly log: SinkLogger;
  private failing = false;
  private dropped = 0;
  private rejected = 0;
  private stopping = false;
  private readonly loop: Promise<void>;

  constructor(
    readonly name: string,
    private readonly transport: Transport,
    private readonly opts: SpooledSinkOptions,
  ) {
    this.log = opts.logger ?? SILENT;
    this.content = opts.content ?? 'masked';
    this.loop = this.deliverLoop();
  }

  write(event: AuditEvent, line: string, bytes: Buffer): void {
    if (this.stopping) {
      this.log.error({ event_id: event.event_id }, `${this.name} audit: event after close is not spooled`);
      return;
    }
    if (this.opts.onSpoolFull === 'fail-open' && this.opts.spool.stats().full) {
      if (this.dropped++ % 1000 === 0)
        this.log.error(
          { dropped: this.dropped },
          `audit spool full: events are NOT delivered to ${this.name} (${this.opts.configKey}.onSpoolFull=fail-open)`,
        );
      return;
    }
    this.opts.spool.append(spoolRecordOf(event, line, Date.now(), bytes));
  }

  /** Durable here means on the spool's disk: delivery follows on its own. */
  flush(): Promise<void> {
    return this.opts.spool.persisted();
  }

  written(): Promise<void> {
    return this.opts.spool.persisted();
  }

  /** Resolves true once everything spooled so far is acknowledged by the receiver, false on timeout. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    await this.opts.spool.persisted();
    while (this.opts.spool.stats().depthRecords > 0) {
      if (Date.now() >= deadline || this.stopping) return false;
      await sleep(20);
    }
    return true;
  }

  async close(): Promise<void> {
    const drained = await this.drain(this.opts.closeTimeoutMs);
    this.stopping = true;
    if (!drained)
      this.log.warn(
        { spooled: this.opts.spool.stats().depthRecords },
        `${this.name} audit: closing with undelivered events; they stay in the spool for the next start`,
      );
    await this.opts.spool.close();
    // A send still retrying against a dead receiver must not hold up shutdown: its records stay spooled.
    await Promise.race([this.loop, sleep(2000)]);
    await this.transport.close?.().catch(() => undefined);
  }

  health(): SinkHealth {
    const s = this.opts.spool.stats();
    const refusing = (s.full || s.writeError !== undefined) && this.opts.onSpoolFull === 'fail-closed';
    const reason = s.writeError
      ? `${this.name} audit spool cannot be written (${s.writeError}); retrying`
      : `${this.name} audit spool full: ${s.depthBytes} bytes not yet delivered ` +
        `(${this.opts.configKey}.spool.maxBytes=${this.opts.maxSpoolBytes})`;
    return {
      name: this.name,
      accepting: !refusing,
      ...(refusing ? { reason } : {}),
      metrics: {
        spool_depth_records: s.depthRecords,
        spool_depth_bytes: s.depthBytes,
        spool_resident_bytes: s.residentBytes,
        spool_max_bytes: this.opts.maxSpoolBytes,
        spool_full: s.full ? 1 : 0,
        spool_write_failing: s.writeError ? 1 : 0,
        delivery_lag_seconds: s.lagMs / 1000,
        appended_total: s.appended,
        delivered_total: s.delivered,
        dropped_total: this.dropped,
        rejected_total: this.rejected,
        delivery_failing: this.failing ? 1 : 0,
      },
    };
  }

  private async deliverLoop(): Promise<void> {
    let backoffMs = BACKOFF_FIRST_MS;
    let singles = 0; // after a refused batch, its records go one by one to find the culprit
    while (!this.stopping) {
      let batch: SpoolRecord[] = [];
      try {
        // Inside the try: reading evicted lines back from the spool's segments can fail (I/O).
        await this.opts.spool.ready();
        batch = this.opts.spool.peek(singles > 0 ? 1 : this.opts.maxBatchRecords, this.opts.maxBatchBytes);
        if (this.stopping || batch.length === 0) continue;
        await this.transport.send(batch);
        // Before the commit: once the spool shows the batch gone, the state must not still say failing.
        if (this.failing)
          this.log.info({ backlog: this.opts.spool.stats().depthRecords }, `${this.name} audit delivery resumed`);
        this.failing = false;
        await this.opts.spool.commit(batch.length);
        backoffMs = BACKOFF_FIRST_MS;
        singles = Math.max(0, singles - 1);
      } catch (err) {
        if (this.stopping) return;
        const action = err instanceof DeliveryError ? err.action : 'retry';
        if (action !== 'retry' && batch.length > 1) {
          singles = batch.length;
          continue;
        }
        if (action !== 'retry') {
          await this.reject(batch[0]!, err);
          continue;
        }
        if (!this.failing)
          this.log.warn(
            { err: (err as Error).message, spooled: this.opts.spool.stats().depthRecords },
            `${this.name} audit delivery failing; events stay in the spool`,
          );
        this.failing = true;
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /** The receiver will never take this record: keep it beside the spool and move on rather than wedge delivery. */
  private async reject(rec: SpoolRecord, err: unknown): Promise<void> {
    await this.opts.spool.deadLetter(rec);
    this.rejected++;
    await this.opts.spool.commit(1);
    const eventId = (JSON.parse(rec.line) as { event_id?: string }).event_id;
    this.log.error(
      { event_id: eventId, bytes: rec.line.length, err: (err as Error).message },
      `${this.name} audit: event refused; kept in the spool dir (rejected.jsonl) and the audit file`,
    );
  }
}
