import { CompressionTypes, Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent, ContentMode } from './events.ts';
import { ensureTopics, toTopicMessages } from './kafka-topics.ts';
import type { AuditSink, SinkHealth } from './sink.ts';
import { spoolRecordOf, type SpoolRecord } from './spool-segments.ts';
import type { Spool } from './spool.ts';

/** What the Kafka sink needs (the `audit.kafka` config section, with the spool opened). */
export interface KafkaSinkOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly topics: { readonly decisions: string; readonly sessions: string };
  readonly spool: Spool;
  readonly maxSpoolBytes: number;
  /** fail-closed: refuse new calls while the spool is full; fail-open: drop Kafka delivery of new events. */
  readonly onSpoolFull: 'fail-closed' | 'fail-open';
  /** Create the topics on first connect (ignored when they exist). */
  readonly createTopics?: { readonly partitions: number; readonly replicationFactor: number };
  readonly maxBatchRecords?: number;
  /** How long close() keeps delivering before it leaves the rest in the spool for the next start. */
  readonly closeTimeoutMs?: number;
  /** What the topics receive of prompts and answers (default masked). */
  readonly content?: ContentMode;
  /** Batch compression (default gzip: kafkajs compresses in libuv's thread pool, off the event loop). */
  readonly compression?: 'gzip' | 'none';
  /** How long a batch smaller than maxBatchRecords waits for more events (Kafka's linger.ms; default 5). */
  readonly lingerMs?: number;
  readonly logger?: SinkLogger;
}

/** The slice of a pino logger the sink uses. */
export interface SinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const SILENT: SinkLogger = { info() {}, warn() {}, error() {} };

/** Under Kafka's default 1 MiB message.max.bytes, so a batch fits even topics Sluice did not create. */
const MAX_BATCH_BYTES = 900 * 1024;
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const isTooLarge = (err: unknown) => TOO_LARGE.has(String((err as { type?: unknown }).type));

/**
 * Streams audit events to Kafka through the write-ahead spool: `write` only enqueues in memory,
 * a background loop delivers batches in spool order with an idempotent producer (acks=all, one
 * request in flight so order per key holds) and commits what was acknowledged. A broker outage
 * only grows the spool; delivery resumes on its own.
 */
export class KafkaAuditSink implements AuditSink {
  readonly name = 'kafka';
  readonly content: ContentMode;
  private readonly kafka: Kafka;
  private readonly log: SinkLogger;
  private producer: Producer | undefined;
  private topicsReady = false;
  private failing = false;
  private dropped = 0;
  private rejected = 0;
  private stopping = false;
  private readonly loop: Promise<void>;

  constructor(private readonly opts: KafkaSinkOptions) {
    this.log = opts.logger ?? SILENT;
    this.content = opts.content ?? 'masked';
    // kafkajs logs every retry at ERROR; the sink reports state changes itself instead.
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      // Short retries inside kafkajs: the delivery loop retries forever with its own backoff.
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    this.loop = this.deliverLoop();
  }

  write(event: AuditEvent, line: string, bytes: Buffer): void {
    if (this.stopping) {
      this.log.error(
        { event_id: event.event_id },
        'kafka audit: event after close is not spooled (it is in the file sink)',
      );
      return;
    }
    if (this.opts.onSpoolFull === 'fail-open' && this.opts.spool.stats().full) {
      // Documented fail-open: the event still reaches the file sink, but not Kafka.
      if (this.dropped++ % 1000 === 0)
        this.log.error(
          { dropped: this.dropped },
          'audit spool full: events are NOT delivered to Kafka (audit.kafka.onSpoolFull=fail-open)',
        );
      return;
    }
    this.opts.spool.append(spoolRecordOf(event, line, Date.now(), bytes));
  }

  /** Durable here means on the spool's disk: delivery to Kafka follows on its own. */
  flush(): Promise<void> {
    return this.opts.spool.persisted();
  }

  /** Resolves true once everything spooled so far is acknowledged by Kafka, false on timeout. */
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
    const drained = await this.drain(this.opts.closeTimeoutMs ?? 5000);
    this.stopping = true;
    if (!drained)
      this.log.warn(
        { spooled: this.opts.spool.stats().depthRecords },
        'kafka audit: closing with undelivered events; they stay in the spool for the next start',
      );
    await this.producer?.disconnect().catch(() => undefined);
    await this.opts.spool.close();
    // A send still retrying against a dead broker must not hold up shutdown: its records stay spooled.
    await Promise.race([this.loop, sleep(2000)]);
  }

  health(): SinkHealth {
    const s = this.opts.spool.stats();
    // A spool that cannot be written is treated as full: the same setting says whether calls go on.
    const refusing = (s.full || s.writeError !== undefined) && this.opts.onSpoolFull === 'fail-closed';
    const reason = s.writeError
      ? `audit spool cannot be written (${s.writeError}); retrying`
      : `audit spool full: ${s.depthBytes} bytes not yet delivered to Kafka ` +
        `(audit.kafka.spool.maxBytes=${this.opts.maxSpoolBytes})`;
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
    let backoffMs = 250;
    let singles = 0; // after a too-large batch, its records go one by one to find the culprit
    while (!this.stopping) {
      let batch: SpoolRecord[] = [];
      try {
        // Inside the try: reading evicted lines back from the spool's segments can fail (I/O), and
        // that is a delivery failure to retry with backoff, not a crash of the gateway.
        await this.opts.spool.ready();
        const max = singles > 0 ? 1 : (this.opts.maxBatchRecords ?? 500);
        batch = this.opts.spool.peek(max, MAX_BATCH_BYTES);
        if (this.stopping || batch.length === 0) continue;
        // Linger: under load a few milliseconds fill a batch, so one produce request (and one
        // compression) carries many events instead of one each. A backlog is sent at once.
        const lingerMs = this.opts.lingerMs ?? 5;
        if (batch.length < max && lingerMs > 0 && !this.failing) {
          await sleep(lingerMs);
          batch = this.opts.spool.peek(max, MAX_BATCH_BYTES);
        }
        await this.send(batch);
        await this.opts.spool.commit(batch.length);
        if (this.failing)
          this.log.info({ backlog: this.opts.spool.stats().depthRecords }, 'kafka audit delivery resumed');
        this.failing = false;
        backoffMs = 250;
        singles = Math.max(0, singles - 1);
      } catch (err) {
        if (this.stopping) return;
        if (isTooLarge(err)) {
          if (batch.length > 1) singles = batch.length;
          else await this.reject(batch[0]!, err);
          continue;
        }
        if (!this.failing)
          this.log.warn(
            { err: (err as Error).message, spooled: this.opts.spool.stats().depthRecords },
            'kafka audit delivery failing; events stay in the spool',
          );
        this.failing = true;
        // A fresh producer after a failure: kafkajs does not always recover a broken one.
        const broken = this.producer;
        this.producer = undefined;
        await broken?.disconnect().catch(() => undefined);
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  /** Kafka will never take this record: keep it beside the spool and move on rather than wedge delivery. */
  private async reject(rec: SpoolRecord, err: unknown): Promise<void> {
    await this.opts.spool.deadLetter(rec);
    // Counted before the spool lets go of it: a reader never sees the depth drop without the rejection.
    this.rejected++;
    await this.opts.spool.commit(1);
    const eventId = (JSON.parse(rec.line) as { event_id?: string }).event_id;
    this.log.error(
      { event_id: eventId, bytes: rec.bytes.length - 1, err: (err as Error).message },
      'kafka audit: event refused as too large; kept in the spool dir (rejected.jsonl) and the audit file',
    );
  }

  private async send(batch: readonly SpoolRecord[]): Promise<void> {
    const producer = await this.connected();
    // gzip: the one codec built into kafkajs (lz4 and zstd need codec packages that are not maintained).
    await producer.sendBatch({
      acks: -1,
      timeout: 30_000,
      compression: this.opts.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP,
      topicMessages: toTopicMessages(batch, this.opts.topics),
    });
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    if (!this.topicsReady && this.opts.createTopics) {
      await ensureTopics(this.kafka, [this.opts.topics.decisions, this.opts.topics.sessions], this.opts.createTopics);
      this.topicsReady = true;
    }
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    await producer.connect();
    this.producer = producer;
    return producer;
  }
}
