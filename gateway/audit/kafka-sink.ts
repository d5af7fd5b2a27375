import { CompressionTypes, Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AUDIT_SCHEMA_VERSION, type AuditEvent } from './events.ts';
import type { AuditSink, SinkHealth } from './sink.ts';
import { spoolRecordOf } from './spool-segments.ts';
import type { Spool, SpoolRecord } from './spool.ts';

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
  readonly logger?: SinkLogger;
}

/** The slice of a pino logger the sink uses. */
export interface SinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const SILENT: SinkLogger = { info() {}, warn() {}, error() {} };

/**
 * Streams audit events to Kafka through the write-ahead spool: `write` only enqueues in memory,
 * a background loop delivers batches in spool order with an idempotent producer (acks=all, one
 * request in flight so order per key holds) and commits what was acknowledged. A broker outage
 * only grows the spool; delivery resumes on its own.
 */
export class KafkaAuditSink implements AuditSink {
  readonly name = 'kafka';
  private readonly kafka: Kafka;
  private readonly log: SinkLogger;
  private producer: Producer | undefined;
  private topicsReady = false;
  private failing = false;
  private dropped = 0;
  private stopping = false;
  private readonly loop: Promise<void>;

  constructor(private readonly opts: KafkaSinkOptions) {
    this.log = opts.logger ?? SILENT;
    // kafkajs logs every retry at ERROR; the sink reports state changes itself instead.
    this.kafka = new Kafka({ clientId: opts.clientId, brokers: [...opts.brokers], logLevel: logLevel.NOTHING, connectionTimeout: 3000 });
    this.loop = this.deliverLoop();
  }

  write(event: AuditEvent, line: string): void {
    if (this.opts.onSpoolFull === 'fail-open' && this.opts.spool.stats().full) {
      // Documented fail-open: the event still reaches the file sink, but not Kafka.
      if (this.dropped++ % 1000 === 0) this.log.error({ dropped: this.dropped }, 'audit spool full: events are NOT delivered to Kafka (audit.kafka.onSpoolFull=fail-open)');
      return;
    }
    this.opts.spool.append(spoolRecordOf(event, line, Date.now()));
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
    if (!drained) this.log.warn({ spooled: this.opts.spool.stats().depthRecords }, 'kafka audit: closing with undelivered events; they stay in the spool for the next start');
    await this.producer?.disconnect().catch(() => undefined);
    await this.opts.spool.close();
    await this.loop;
  }

  health(): SinkHealth {
    const s = this.opts.spool.stats();
    const refusing = s.full && this.opts.onSpoolFull === 'fail-closed';
    return {
      name: this.name,
      accepting: !refusing,
      ...(refusing ? { reason: `audit spool full: ${s.depthBytes} bytes not yet delivered to Kafka (audit.kafka.spool.maxBytes=${this.opts.maxSpoolBytes})` } : {}),
      metrics: {
        spool_depth_records: s.depthRecords,
        spool_depth_bytes: s.depthBytes,
        spool_max_bytes: this.opts.maxSpoolBytes,
        spool_full: s.full ? 1 : 0,
        delivery_lag_seconds: s.lagMs / 1000,
        appended_total: s.appended,
        delivered_total: s.delivered,
        dropped_total: this.dropped,
        delivery_failing: this.failing ? 1 : 0,
      },
    };
  }

  private async deliverLoop(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopping) {
      await this.opts.spool.ready();
      const batch = this.opts.spool.peek(this.opts.maxBatchRecords ?? 500);
      if (this.stopping || batch.length === 0) continue;
      try {
        await this.send(batch);
        await this.opts.spool.commit(batch.length);
        if (this.failing) this.log.info({ backlog: this.opts.spool.stats().depthRecords }, 'kafka audit delivery resumed');
        this.failing = false;
        backoffMs = 250;
      } catch (err) {
        if (this.stopping) return;
        if (!this.failing) this.log.warn({ err: (err as Error).message, spooled: this.opts.spool.stats().depthRecords }, 'kafka audit delivery failing; events stay in the spool');
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

  private async send(batch: readonly SpoolRecord[]): Promise<void> {
    const producer = await this.connected();
    const byTopic = new Map<string, { key: string; value: string; headers: Record<string, string> }[]>();
    for (const rec of batch) {
      // Session records (prompts and answers) go to their own topic; decisions and the approval
      // and access events that belong with them go to the decisions topic.
      const topic = rec.kind === 'session' ? this.opts.topics.sessions : this.opts.topics.decisions;
      const messages = byTopic.get(topic) ?? byTopic.set(topic, []).get(topic)!;
      // The value is the exact audit line: the hash chain (prev_hash) is computed over these bytes.
      messages.push({ key: rec.key, value: rec.line, headers: { 'content-type': 'application/json', 'sluice-schema-version': String(AUDIT_SCHEMA_VERSION), 'sluice-kind': rec.kind } });
    }
    await producer.sendBatch({ acks: -1, timeout: 30_000, compression: CompressionTypes.GZIP, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    if (!this.topicsReady && this.opts.createTopics) await this.ensureTopics(this.opts.createTopics);
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

  private async ensureTopics(spec: { partitions: number; replicationFactor: number }): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topics = [this.opts.topics.decisions, this.opts.topics.sessions];
      await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: spec.partitions, replicationFactor: spec.replicationFactor })) });
      this.topicsReady = true;
    } finally {
      await admin.disconnect();
    }
  }
}
