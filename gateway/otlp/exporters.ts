/**
 * OTLP exporters for the three signals from the `telemetry.otlp` config: http/protobuf or grpc,
 * the configured headers (values from the environment where they are secrets), and the resource
 * every signal shares. The official OpenTelemetry JS exporters do the wire work.
 */
import { Metadata } from '@grpc/grpc-js';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '../config.ts';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The slice of `telemetry.otlp` every exporter reads. */
export interface OtlpEndpointConfig {
  readonly endpoint: string;
  readonly protocol: 'http/protobuf' | 'grpc';
  readonly headers: readonly { readonly name: string; readonly value?: string; readonly valueEnv?: string }[];
  readonly serviceName: string;
  readonly timeoutMs: number;
}

/** The headers with their values; a header whose env var is unset is a startup error, not a silent omission. */
export function resolveHeaders(config: OtlpEndpointConfig, env = process.env): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of config.headers) {
    const value = h.valueEnv === undefined ? h.value : env[h.valueEnv];
    if (value === undefined || value === '')
      throw new ConfigError([`telemetry.otlp.headers: environment variable ${h.valueEnv} (for ${h.name}) is not set`]);
    headers[h.name] = value;
  }
  return headers;
}

/** The resource of every signal: service.name (config) and the instance id (the audit chain's). */
export function otlpResource(config: OtlpEndpointConfig, instanceId: string): Resource {
  return resourceFromAttributes({
    [ATTR_SERVICE_NAME]: config.serviceName,
    // The incubating semconv name; the stable package does not export it yet.
    'service.instance.id': instanceId,
  });
}

type Signal = 'logs' | 'traces' | 'metrics';

/** http/protobuf wants the full signal URL; grpc takes the collector's address alone. */
function urlFor(config: OtlpEndpointConfig, signal: Signal): string {
  if (config.protocol === 'grpc') return config.endpoint;
  return `${config.endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

function grpcMetadata(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) metadata.set(name.toLowerCase(), value);
  return metadata;
}

function options(config: OtlpEndpointConfig, signal: Signal) {
  const headers = resolveHeaders(config);
  const url = urlFor(config, signal);
  const timeoutMillis = config.timeoutMs;
  return config.protocol === 'grpc'
    ? { grpc: true as const, url, timeoutMillis, metadata: grpcMetadata(headers) }
    : { grpc: false as const, url, timeoutMillis, headers };
}

export function logExporter(config: OtlpEndpointConfig): LogRecordExporter {
  const { grpc, ...o } = options(config, 'logs');
  return grpc ? new GrpcLogExporter(o) : new ProtoLogExporter(o);
}

export function traceExporter(config: OtlpEndpointConfig): SpanExporter {
  const { grpc, ...o } = options(config, 'traces');
  return grpc ? new GrpcTraceExporter(o) : new ProtoTraceExporter(o);
}

export function metricExporter(config: OtlpEndpointConfig): PushMetricExporter {
  const { grpc, ...o } = options(config, 'metrics');
  return grpc ? new GrpcMetricExporter(o) : new ProtoMetricExporter(o);
}
