import { SeverityNumber, type AnyValueMap, type AnyValue } from '@opentelemetry/api-logs';
import type { Resource } from '@opentelemetry/resources';
import {
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordProcessor,
  type SdkLogRecord,
} from '@opentelemetry/sdk-logs';
import type { ContentMode } from './events.ts';
import type { SinkLogger } from './kafka-sink.ts';
import { DeliveryError, SpooledSink, type Transport } from './spooled-delivery.ts';
import type { SpoolRecord } from './spool-segments.ts';
import type { Spool } from './spool.ts';

/** What the OTLP log sink needs (`telemetry.otlp` and its `logs` section, with the exporter built). */
export interface OtlpLogSinkOptions {
  readonly exporter: LogRecordExporter;
  readonly resource: Resource;
  readonly spool: Spool;
  readonly maxSpoolBytes: number;
  readonly onSpoolFull: 'fail-closed' | 'fail-open';
  readonly maxBatchRecords: number;
  readonly closeTimeoutMs: number;
  /** What the log records carry of prompts and answers (default masked). */
  readonly content?: ContentMode;
  readonly logger?: SinkLogger;
}

/** GenAI semantic conventions: the operation name of a chat call. */
const CHAT_OPERATIONS = new Set(['messages.create']);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;

/**
 * The attributes of one audit event's log record: the OpenTelemetry GenAI semantic conventions
 * where the event knows them (system, operation, requested model, token usage), `user.id` for the
 * subject, and Sluice's own `sluice.*` keys (kind, event id for dedup, seq for order, outcome).
 */
export function logAttributesOf(event: Json): Record<string, string | number> {
  const input = obj(obj(event.input)?.request);
  const request = obj(event.request);
  const usage = obj(obj(event.response)?.usage);
  const operation = (event.operation ?? input?.operation) as string | undefined;
  const model = (request?.model ?? input?.model) as unknown;
  const attrs: Record<string, string | number> = {
    'sluice.audit.kind': String(event.kind),
    'sluice.event_id': String(event.event_id),
    'sluice.instance_id': String(event.instance_id),
    'sluice.seq': Number(event.seq),
  };
  if (operation !== undefined) {
    attrs['gen_ai.system'] = 'anthropic';
    attrs['gen_ai.provider.name'] = 'anthropic';
    attrs['gen_ai.operation.name'] = CHAT_OPERATIONS.has(operation) ? 'chat' : operation;
    attrs['sluice.operation'] = operation;
  }
  if (typeof model === 'string') attrs['gen_ai.request.model'] = model;
  if (typeof usage?.input_tokens === 'number') attrs['gen_ai.usage.input_tokens'] = usage.input_tokens;
  if (typeof usage?.output_tokens === 'number') attrs['gen_ai.usage.output_tokens'] = usage.output_tokens;
  if (typeof event.subject === 'string') attrs['user.id'] = event.subject;
  if (typeof event.outcome === 'string') attrs['sluice.outcome'] = event.outcome;
  if (typeof event.decision_id === 'string') attrs['sluice.decision_id'] = event.decision_id;
  return attrs;
}

/**
 * Collects what the logger emits for one batch, so the batch is exported as a whole and only
 * committed from the spool once the collector acknowledged it (the SDK's batch processor would
 * drop records from a full in-memory queue, which an audit trail cannot afford).
 */
class CollectingProcessor implements LogRecordProcessor {
  records: SdkLogRecord[] = [];
  onEmit(record: SdkLogRecord): void {
    this.records.push(record);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Exports spooled audit lines as OTLP log records: body = the event, attributes per {@link logAttributesOf}. */
export class OtlpLogTransport implements Transport {
  private readonly collected = new CollectingProcessor();
  private readonly provider: LoggerProvider;

  constructor(
    private readonly exporter: LogRecordExporter,
    resource: Resource,
  ) {
    this.provider = new LoggerProvider({ resource, processors: [this.collected] });
  }

  async send(batch: readonly SpoolRecord[]): Promise<void> {
    const logger = this.provider.getLogger('sluice.audit');
    this.collected.records = [];
    for (const rec of batch) {
      const event = JSON.parse(rec.line) as Json;
      const at = typeof event.timestamp === 'string' ? new Date(event.timestamp) : new Date(rec.at);
      logger.emit({
        eventName: `sluice.audit.${String(event.kind)}`,
        timestamp: at,
        severityNumber: SeverityNumber.INFO,
        severityText: 'INFO',
        body: event as AnyValueMap as AnyValue,
        attributes: logAttributesOf(event),
      });
    }
    const records = this.collected.records;
    this.collected.records = [];
    const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
      this.exporter.export(records, resolve),
    );
    // ExportResultCode.SUCCESS is 0 (@opentelemetry/core, not a direct dependency).
    if (result.code !== 0)
      throw new DeliveryError(`OTLP log export failed: ${result.error?.message ?? 'unknown error'}`, 'retry');
  }

  async close(): Promise<void> {
    await this.exporter.shutdown();
    await this.provider.shutdown();
  }
}

/** The OTLP audit sink: the spool's at-least-once delivery over {@link OtlpLogTransport}. */
export function otlpLogSink(opts: OtlpLogSinkOptions): SpooledSink {
  return new SpooledSink('otlp', new OtlpLogTransport(opts.exporter, opts.resource), {
    ...opts,
    // Under gRPC's default 4 MiB message limit, with room for the OTLP envelope.
    maxBatchBytes: 3 * 1024 * 1024,
    configKey: 'telemetry.otlp.logs',
  });
}
