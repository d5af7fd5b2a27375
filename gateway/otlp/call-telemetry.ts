/**
 * Spans and metrics for finished calls, exported over OTLP with the OpenTelemetry JS SDK. Spans
 * are built after the call ended from the trace the pipeline already keeps (gateway/pipeline/
 * trace.ts), with explicit start and end times, so the request path does no tracing work; the
 * metrics are the /metrics series (gateway/ops) recorded on OpenTelemetry instruments.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Tracer,
  ValueType,
} from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { metricExporter, otlpResource, traceExporter, type OtlpEndpointConfig } from './exporters.ts';

/** What a finished call amounted to (the pipeline's ExchangeSummary, read structurally: this room sits below it). */
export interface CallSummary {
  readonly decisionId: string;
  readonly startedAt: Date;
  readonly operation: string;
  readonly outcome: string;
  readonly connection: string | null;
  readonly subject: string | null;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly model: string | undefined;
  readonly masks: readonly { readonly type: string; readonly count: number; readonly path: string }[];
  readonly approvalState: string | null;
  readonly billed?: {
    readonly family: string;
    readonly usage: { readonly input: number; readonly output: number; cacheWrite: number; cacheRead: number };
  };
  readonly trace: readonly {
    readonly stage: string;
    readonly startMs: number;
    readonly durationMs: number;
    readonly outcome: 'ok' | 'error' | 'mark';
  }[];
}

/** The audit sinks' state, as AuditLog.status() reports it. */
export type AuditStatus = () => {
  readonly sinks: readonly { name: string; accepting: boolean; metrics: Readonly<Record<string, number>> }[];
};

/** `telemetry.otlp` as this module reads it. */
export interface CallTelemetryConfig extends OtlpEndpointConfig {
  readonly traces: { readonly enabled: boolean };
  readonly metrics: { readonly enabled: boolean; readonly intervalMs: number };
}

/** Stage names of the trace as span names: the pipeline's upstream stage is the wait for the answer's headers. */
const SPAN_NAMES: Readonly<Record<string, string>> = { upstream_headers: 'upstream' };

/** The GenAI semantic conventions' operation name (`chat` for messages); others keep Sluice's name. */
export function genAiOperation(operation: string): string {
  return operation === 'messages.create' ? 'chat' : operation;
}

/** The attributes of a call's root span (and of its log records): GenAI conventions plus Sluice's own. */
function callAttributes(call: CallSummary): Attributes {
  return {
    'gen_ai.system': 'anthropic',
    'gen_ai.provider.name': 'anthropic',
    'gen_ai.operation.name': genAiOperation(call.operation),
    ...(call.model === undefined ? {} : { 'gen_ai.request.model': call.model }),
    ...(call.billed
      ? { 'gen_ai.usage.input_tokens': call.billed.usage.input, 'gen_ai.usage.output_tokens': call.billed.usage.output }
      : {}),
    ...(call.subject === null ? {} : { 'user.id': call.subject }),
    ...(call.status === undefined ? {} : { 'http.response.status_code': call.status }),
    ...(call.code === undefined ? {} : { 'error.type': call.code }),
    'sluice.decision_id': call.decisionId,
    'sluice.operation': call.operation,
    'sluice.outcome': call.outcome,
    ...(call.connection === null ? {} : { 'sluice.connection': call.connection }),
  };
}

interface Instruments {
  readonly requests: Counter;
  readonly stages: Histogram;
  readonly masks: Counter;
  readonly tokens: Counter;
  readonly approvals: Counter;
}

/** Exports a span tree and metrics per finished call; `observe` is cheap and never throws into the caller. */
export class CallTelemetry {
  private readonly tracerProvider: BasicTracerProvider | undefined;
  private readonly tracer: Tracer | undefined;
  private readonly meterProvider: MeterProvider | undefined;
  private readonly instruments: Instruments | undefined;

  constructor(config: CallTelemetryConfig, instanceId: string, auditStatus?: AuditStatus) {
    const resource = otlpResource(config, instanceId);
    if (config.traces.enabled) {
      this.tracerProvider = new BasicTracerProvider({
        resource,
        spanProcessors: [new BatchSpanProcessor(traceExporter(config), { scheduledDelayMillis: 1000 })],
      });
      this.tracer = this.tracerProvider.getTracer('sluice.gateway');
    }
    if (config.metrics.enabled) {
      this.meterProvider = new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: metricExporter(config),
            exportIntervalMillis: config.metrics.intervalMs,
            exportTimeoutMillis: Math.min(config.timeoutMs, config.metrics.intervalMs),
          }),
        ],
      });
      const meter = this.meterProvider.getMeter('sluice.gateway');
      this.instruments = {
        requests: meter.createCounter('sluice.requests', {
          valueType: ValueType.INT,
          description: 'Proxied calls by operation, outcome, connection.',
        }),
        stages: meter.createHistogram('sluice.stage.duration', {
          unit: 's',
          description: 'Time in each stage of a call.',
        }),
        masks: meter.createCounter('sluice.masks', {
          valueType: ValueType.INT,
          description: 'Entities masked, by type and direction.',
        }),
        tokens: meter.createCounter('sluice.tokens', {
          valueType: ValueType.INT,
          description: 'Tokens the answers reported, by kind and model.',
        }),
        approvals: meter.createCounter('sluice.approval.calls', {
          valueType: ValueType.INT,
          description: 'Calls with an approval, by state.',
        }),
      };
      if (auditStatus) {
        const accepting = meter.createObservableGauge('sluice.audit.sink.accepting', {
          description: '1 while the audit sink takes events; 0 refuses calls (fail closed).',
        });
        const sinkMetric = meter.createObservableGauge('sluice.audit.sink.metric', {
          description: "An audit sink's gauge or counter (attribute `name`, as in /metrics).",
        });
        meter.addBatchObservableCallback(
          (result) => {
            for (const sink of auditStatus().sinks) {
              result.observe(accepting, sink.accepting ? 1 : 0, { sink: sink.name });
              for (const [name, value] of Object.entries(sink.metrics))
                result.observe(sinkMetric, value, { sink: sink.name, name });
            }
          },
          [accepting, sinkMetric],
        );
      }
    }
  }

  /** Records one finished call (called once per call, when its exchange record is written). */
  observe(call: CallSummary): void {
    if (this.tracer) this.spans(this.tracer, call);
    if (this.instruments) this.record(this.instruments, call);
  }

  /** Exports what is pending and stops. */
  async shutdown(): Promise<void> {
    await Promise.all([this.tracerProvider?.shutdown(), this.meterProvider?.shutdown()]);
  }

  /** A root span for the call and one child per stage, at the times the trace recorded. */
  private spans(tracer: Tracer, call: CallSummary): void {
    const t0 = call.startedAt.getTime();
    const at = (ms: number): number => t0 + ms;
    const marks = new Map(call.trace.filter((e) => e.outcome === 'mark').map((e) => [e.stage, e.startMs]));
    const totalMs = marks.get('total') ?? Math.max(0, ...call.trace.map((e) => e.startMs + e.durationMs));
    const model = call.model === undefined ? '' : ` ${call.model}`;
    const root = tracer.startSpan(
      `${genAiOperation(call.operation)}${model}`,
      { kind: SpanKind.SERVER, startTime: t0, attributes: callAttributes(call) },
      ROOT_CONTEXT,
    );
    if (call.outcome === 'error') root.setStatus({ code: SpanStatusCode.ERROR, message: call.code ?? 'error' });
    const parent = trace.setSpan(ROOT_CONTEXT, root);
    let upstreamEnd: number | undefined;
    for (const e of call.trace) {
      if (e.outcome === 'mark') {
        if (e.stage !== 'total') root.addEvent(e.stage, at(e.startMs));
        continue;
      }
      const span = tracer.startSpan(
        SPAN_NAMES[e.stage] ?? e.stage,
        { startTime: at(e.startMs), attributes: { 'sluice.stage': e.stage } },
        parent,
      );
      if (e.outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(at(e.startMs + e.durationMs));
      if (e.stage === 'upstream_headers') upstreamEnd = e.startMs + e.durationMs;
    }
    // The relay is not a timed stage: it runs from the upstream's headers to the call's end.
    if (upstreamEnd !== undefined) {
      tracer
        .startSpan('relay', { startTime: at(upstreamEnd), attributes: { 'sluice.stage': 'relay' } }, parent)
        .end(at(Math.max(upstreamEnd, totalMs)));
    }
    root.end(at(totalMs));
  }

  private record(m: Instruments, call: CallSummary): void {
    const connection = call.connection ?? '';
    m.requests.add(1, { operation: call.operation, outcome: call.outcome, connection });
    for (const e of call.trace) if (e.outcome !== 'mark') m.stages.record(e.durationMs / 1000, { stage: e.stage });
    const total = call.trace.find((e) => e.stage === 'total' && e.outcome === 'mark');
    if (total) m.stages.record(total.startMs / 1000, { stage: 'total' });
    for (const mask of call.masks) {
      const direction = mask.path.startsWith('response.') ? 'response' : 'request';
      m.masks.add(mask.count, { type: mask.type, direction });
    }
    if (call.billed) {
      const { family, usage } = call.billed;
      const where = { model: family, connection };
      m.tokens.add(usage.input, { kind: 'input', ...where });
      m.tokens.add(usage.output, { kind: 'output', ...where });
      m.tokens.add(usage.cacheWrite, { kind: 'cache_write', ...where });
      m.tokens.add(usage.cacheRead, { kind: 'cache_read', ...where });
    }
    if (call.approvalState) m.approvals.add(1, { state: call.approvalState });
  }
}
