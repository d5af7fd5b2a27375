/**
 * The clients of optional integrations (Kafka, OpenTelemetry with gRPC, PostgreSQL) are loaded
 * only when configured: each takes megabytes of a gateway's memory and CLI start-up. Checked in
 * this test file's own process (vitest runs each file in a fresh one), through Node's CommonJS
 * module cache, where these packages land however they are imported.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const require = createRequire(import.meta.url);

/** Which of the optional clients this process has loaded so far. */
function loadedClients(): string[] {
  const packages = {
    kafkajs: '/node_modules/kafkajs/',
    'grpc-js': '/node_modules/@grpc/grpc-js/',
    'opentelemetry-sdk-metrics': '/node_modules/@opentelemetry/sdk-metrics/',
    'opentelemetry-sdk-trace-base': '/node_modules/@opentelemetry/sdk-trace-base/',
    pg: '/node_modules/pg/',
  };
  const files = Object.keys(require.cache);
  return Object.entries(packages)
    .filter(([, dir]) => files.some((file) => file.includes(dir)))
    .map(([name]) => name);
}

describe('optional integrations', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a gateway on the defaults serves calls without loading the Kafka, OTLP or PostgreSQL clients', async () => {
    h = await startHarness();
    const client = await h.client(['engineering'], 'alice');
    const message = await client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(message.type).toBe('message');
    expect(loadedClients()).toEqual([]);
  });

  it('loads the OpenTelemetry SDK and gRPC once telemetry.otlp is configured', async () => {
    // Nothing listens there: exports fail quietly in the background, which this test does not wait for.
    h = await startHarness({ telemetry: { otlp: { endpoint: 'http://127.0.0.1:9', protocol: 'grpc' } } });
    expect(loadedClients()).toEqual(
      expect.arrayContaining(['grpc-js', 'opentelemetry-sdk-metrics', 'opentelemetry-sdk-trace-base']),
    );
  });
});
