import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config.ts';
import type { OtlpEndpointConfig } from '../otlp/exporters.ts';
import { AuditLog } from './audit-log.ts';
import type { ContentMode } from './events.ts';
import { FileAuditSink, type SyncPolicy, type WriteFailurePolicy } from './file-sink.ts';
import type { SinkLogger } from './kafka-sink.ts';
import { withFormat, type AuditFormat } from './ocsf-sink.ts';
import type { AuditSink } from './sink.ts';
import { splunkHecSink } from './splunk-hec-sink.ts';
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
        readonly fsync?: boolean;
      };
      readonly onSpoolFull: 'fail-closed' | 'fail-open';
      readonly maxBatchRecords: number;
      readonly closeTimeoutMs: number;
      readonly content?: ContentMode;
      readonly compression?: 'gzip' | 'none';
      readonly lingerMs?: number;
      readonly format?: AuditFormat;
    };
    readonly splunk?: {
      readonly url: string;
      readonly tokenEnv: string;
      readonly index?: string;
      readonly source: string;
      readonly sourcetype: string;
      readonly host?: string;
      readonly content?: ContentMode;
      readonly tls: { readonly verify: boolean; readonly caFile?: string };
      readonly timeoutMs: number;
      readonly spool: SpoolConfig;
      readonly onSpoolFull: 'fail-closed' | 'fail-open';
      readonly maxBatchRecords: number;
      readonly maxBatchBytes: number;
      readonly closeTimeoutMs: number;
    };
  };
  readonly telemetry?: {
    readonly otlp?: OtlpEndpointConfig & {
      readonly logs: {
        readonly enabled: boolean;
        readonly content?: ContentMode;
        readonly spool: SpoolConfig;
        readonly onSpoolFull: 'fail-closed' | 'fail-open';
        readonly maxBatchRecords: number;
        readonly closeTimeoutMs: number;
      };
    };
  };
}

/** A spooled sink's `spool` section. */
interface SpoolConfig {
  readonly dir?: string;
  readonly maxBytes: number;
  readonly memoryBytes: number;
  readonly fsync?: boolean;
}

/** When the audit file is synced. `fsync` is the older spelling of `sync`: true was every batch. */
export function fileSyncOf(config: AuditConfig): SyncPolicy {
  const f = config.audit.file;
  return f.sync ?? (f.fsync ? 'every' : 'none');
}

/**
 * Whether a spool syncs each batch: as set, else as the audit file is synced. A spool synced per
 * batch makes every write-ahead decision wait for an fdatasync, which an operator who chose
 * `audit.file.sync: none` (a crash loses nothing, a power loss may) has not asked for.
 */
export function spoolSyncs(spool: Pick<SpoolConfig, 'fsync'>, fileSync: SyncPolicy): boolean {
  return spool.fsync ?? fileSync !== 'none';
}

async function openSpool(spool: SpoolConfig, defaultDir: string, fileSync: SyncPolicy): Promise<Spool> {
  const { maxBytes, memoryBytes } = spool;
  return Spool.open({ dir: spool.dir ?? defaultDir, maxBytes, memoryBytes, fsync: spoolSyncs(spool, fileSync) });
}

/** Where the Kafka spool lives when `audit.kafka.spool.dir` is not set. */
export function defaultSpoolDir(stateDir: string): string {
  return join(stateDir, 'audit', 'kafka-spool');
}

/**
 * The SIEM transports besides Kafka, each with a spool of its own: the Splunk HEC sink with
 * `audit.splunk`, OTLP log records with `telemetry.otlp` (unless `logs.enabled` is false).
 * A missing HEC token fails the start: a configured sink that cannot deliver must not be silent.
 */
async function transportSinks(
  config: AuditConfig,
  instanceId: string,
  env: NodeJS.ProcessEnv,
  logger?: SinkLogger,
): Promise<AuditSink[]> {
  const sinks: AuditSink[] = [];
  const s = config.audit.splunk;
  if (s) {
    const token = env[s.tokenEnv];
    if (!token) throw new ConfigError([`audit.splunk.tokenEnv: environment variable ${s.tokenEnv} is not set`]);
    const spool = await openSpool(s.spool, join(config.stateDir, 'audit', 'splunk-spool'), fileSyncOf(config));
    const { spool: _, host, ...rest } = s;
    sinks.push(
      splunkHecSink({
        ...rest,
        token,
        host: host ?? hostname(),
        spool,
        maxSpoolBytes: s.spool.maxBytes,
        ...(logger ? { logger } : {}),
      }),
    );
  }
  const o = config.telemetry?.otlp;
  if (o?.logs.enabled) {
    // Loaded only when configured, as Kafka's client is: the OpenTelemetry and gRPC modules take
    // ~25 MB of a gateway's memory that does not export OTLP.
    const [{ otlpLogSink }, { logExporter, otlpResource }] = await Promise.all([
      import('./otlp-log-sink.ts'),
      import('../otlp/exporters.ts'),
    ]);
    const spool = await openSpool(o.logs.spool, join(config.stateDir, 'audit', 'otlp-spool'), fileSyncOf(config));
    sinks.push(
      otlpLogSink({
        exporter: logExporter(o),
        resource: otlpResource(o, instanceId),
        spool,
        maxSpoolBytes: o.logs.spool.maxBytes,
        onSpoolFull: o.logs.onSpoolFull,
        maxBatchRecords: o.logs.maxBatchRecords,
        closeTimeoutMs: o.logs.closeTimeoutMs,
        content: o.logs.content ?? 'masked',
        ...(logger ? { logger } : {}),
      }),
    );
  }
  return sinks;
}

/**
 * The audit log with its sinks: always the JSONL file (a torn last line left by a crash is moved
 * aside first and recorded); with `audit.kafka` also the Kafka sink, whose spool is opened (and
 * any events a previous run left in it queued for delivery) here.
 */
export async function openAuditLog(
  config: AuditConfig,
  logger?: SinkLogger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AuditLog> {
  const file = config.audit.file.path;
  const torn = recoverTornTail(file);
  const f = config.audit.file;
  const fileOptions = {
    onWriteFailure: config.audit.onWriteFailure,
    sync: fileSyncOf(config),
    syncIntervalMs: f.syncIntervalMs ?? 1000,
    content: f.content ?? 'masked',
  } as const;
  const fileSink = new FileAuditSink(file, { ...fileOptions, ...(logger ? { logger } : {}) });
  const sinks: AuditSink[] = [withFormat(fileSink, f.format ?? 'sluice', logger)];
  const k = config.audit.kafka;
  if (k) {
    const spool = await openSpool(k.spool, defaultSpoolDir(config.stateDir), fileOptions.sync);
    const { KafkaAuditSink } = await import('./kafka-sink.ts');
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
  const instanceId = randomUUID();
  sinks.push(...(await transportSinks(config, instanceId, env, logger)));
  const audit = new AuditLog(sinks, {
    instanceId,
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
