import { join } from 'node:path';
import { AuditLog } from './audit-log.ts';
import type { ContentMode } from './events.ts';
import { FileAuditSink, type SyncPolicy, type WriteFailurePolicy } from './file-sink.ts';
import { KafkaAuditSink, type SinkLogger } from './kafka-sink.ts';
import { withFormat, type AuditFormat } from './ocsf-sink.ts';
import type { AuditSink } from './sink.ts';
import { Spool } from './spool.ts';
import { recoverTornTail } from './torn-tail.ts';

/** The slice of the validated config the audit stage reads. */
export interface AuditConfig {
  readonly stateDir: string;
  readonly audit: {
    readonly file: {
      readonly path: string;
      readonly sync?: SyncPolicy;
      readonly syncIntervalMs?: number;
      readonly fsync?: boolean;
      readonly content?: ContentMode;
      readonly format?: AuditFormat;
    };
    readonly onWriteFailure: WriteFailurePolicy;
    readonly maxContentBytes?: number;
    readonly kafka?: {
      readonly brokers: readonly string[];
      readonly clientId: string;
      readonly topics: { readonly decisions: string; readonly sessions: string };
      readonly createTopics: boolean;
      readonly partitions: number;
      readonly replicationFactor: number;
      readonly spool: {
        readonly dir?: string;
        readonly maxBytes: number;
        readonly memoryBytes: number;
        readonly fsync: boolean;
      };
      readonly onSpoolFull: 'fail-closed' | 'fail-open';
      readonly maxBatchRecords: number;
      readonly closeTimeoutMs: number;
      readonly content?: ContentMode;
      readonly compression?: 'gzip' | 'none';
      readonly lingerMs?: number;
      readonly format?: AuditFormat;
    };
  };
}

/** Where the Kafka spool lives when `audit.kafka.spool.dir` is not set. */
export function defaultSpoolDir(stateDir: string): string {
  return join(stateDir, 'audit', 'kafka-spool');
}

/**
 * The audit log with its sinks: always the JSONL file (a torn last line left by a crash is moved
 * aside first and recorded); with `audit.kafka` also the Kafka sink, whose spool is opened (and
 * any events a previous run left in it queued for delivery) here.
 */
export async function openAuditLog(config: AuditConfig, logger?: SinkLogger): Promise<AuditLog> {
  const file = config.audit.file.path;
  const torn = recoverTornTail(file);
  const f = config.audit.file;
  const fileOptions = {
    onWriteFailure: config.audit.onWriteFailure,
    // `fsync` is the older spelling of `sync`: true was every batch.
    sync: f.sync ?? (f.fsync ? 'every' : 'none'),
    syncIntervalMs: f.syncIntervalMs ?? 1000,
    content: f.content ?? 'masked',
  } as const;
  const fileSink = new FileAuditSink(file, { ...fileOptions, ...(logger ? { logger } : {}) });
  const sinks: AuditSink[] = [withFormat(fileSink, f.format ?? 'sluice', logger)];
  const k = config.audit.kafka;
  if (k) {
    const spool = await Spool.open({
      dir: k.spool.dir ?? defaultSpoolDir(config.stateDir),
      maxBytes: k.spool.maxBytes,
      memoryBytes: k.spool.memoryBytes,
      fsync: k.spool.fsync,
    });
    const kafkaSink = new KafkaAuditSink({
      brokers: k.brokers,
      clientId: k.clientId,
      topics: k.topics,
      spool,
      maxSpoolBytes: k.spool.maxBytes,
      onSpoolFull: k.onSpoolFull,
      ...(k.createTopics ? { createTopics: { partitions: k.partitions, replicationFactor: k.replicationFactor } } : {}),
      maxBatchRecords: k.maxBatchRecords,
      closeTimeoutMs: k.closeTimeoutMs,
      content: k.content ?? 'masked',
      compression: k.compression ?? 'gzip',
      lingerMs: k.lingerMs ?? 5,
      ...(logger ? { logger } : {}),
    });
    sinks.push(withFormat(kafkaSink, k.format ?? 'sluice', logger));
  }
  const audit = new AuditLog(sinks, {
    maxContentBytes: config.audit.maxContentBytes ?? 1024 * 1024,
    onUnwritable: (err, kind) =>
      logger?.error({ err: (err as Error).message, kind }, 'audit: an event could not be serialised (a bug): left out'),
  });
  if (torn) {
    const { bytes, sha256, movedTo, reason } = torn;
    const fields = { file, torn_bytes: bytes, torn_sha256: sha256, moved_to: movedTo, reason };
    logger?.warn(fields, 'audit file ended in a torn line: moved aside');
    const at = new Date().toISOString();
    audit.record({ kind: 'audit_recovery', timestamp: at, subject: null, ...fields });
  }
  return audit;
}
