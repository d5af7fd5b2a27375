/**
 * A real OpenTelemetry Collector (.tools/bin/otelcol-sluice, built by scripts/otelcol.sh) with the
 * OTLP receiver on free ports (gRPC and HTTP) and one file exporter per signal, for tests that
 * check what Sluice exports as the collector received it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
export const OTELCOL = join(ROOT, '.tools', 'bin', 'otelcol-sluice');

/** Builds the collector when it is missing or stale (idempotent, ~2 minutes from cold Go caches). */
export async function ensureCollector(): Promise<void> {
  await promisify(execFile)('bash', [join(ROOT, 'scripts', 'otelcol.sh')], { timeout: 600_000 });
}

async function listening(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await Promise.race([once(socket, 'connect'), once(socket, 'error').then(([e]) => Promise.reject(e))]);
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

export type Signal = 'logs' | 'traces' | 'metrics';

export class OtelCollector {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly stderr: string[],
  ) {}

  static async start(dir: string): Promise<OtelCollector> {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const file = (signal: Signal) => `    path: ${join(dir, `${signal}.jsonl`)}\n    flush_interval: 100ms\n`;
    const config =
      `receivers:\n  otlp:\n    protocols:\n` +
      `      grpc:\n        endpoint: 127.0.0.1:${grpcPort}\n` +
      `      http:\n        endpoint: 127.0.0.1:${httpPort}\n` +
      `exporters:\n  file/logs:\n${file('logs')}  file/traces:\n${file('traces')}  file/metrics:\n${file('metrics')}` +
      // No internal telemetry: its default Prometheus port (8888) may be taken by another test run.
      `service:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n` +
      (['logs', 'traces', 'metrics'] as const)
        .map((s) => `    ${s}:\n      receivers: [otlp]\n      exporters: [file/${s}]\n`)
        .join('');
    const configFile = join(dir, 'otelcol.yaml');
    await writeFile(configFile, config);
    const child = spawn(OTELCOL, ['--config', `file:${configFile}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const c = new OtelCollector(child, dir, grpcPort, httpPort, stderr);
    // Ready once both receivers listen (the process logs "Everything is ready" about then too).
    for (let i = 0; !((await listening(grpcPort)) && (await listening(httpPort))); i++) {
      if (child.exitCode !== null || i > 300) throw new Error(`otelcol did not start:\n${stderr.join('')}`);
      await sleep(50);
    }
    return c;
  }

  get httpEndpoint(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get grpcEndpoint(): string {
    return `http://127.0.0.1:${this.grpcPort}`;
  }

  /** Every OTLP export request the collector wrote for `signal` (OTLP JSON, one request per line). */
  async received(signal: Signal): Promise<Record<string, unknown>[]> {
    const text = await readFile(join(this.dir, `${signal}.jsonl`), 'utf8').catch(() => '');
    // Only whole lines: the exporter may be part-way through writing the last one.
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Polls the exported file until `predicate` holds for what it holds (the file exporter flushes every 100 ms). */
  async until<T>(
    signal: Signal,
    read: (requests: Record<string, unknown>[]) => T | undefined,
    ms = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = read(await this.received(signal));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`otelcol: no matching ${signal} within ${ms} ms`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    await once(this.child, 'exit');
  }
}

/** An OTLP JSON AnyValue as a plain value (stringValue, intValue, kvlistValue, arrayValue, …). */
export function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return ((v.arrayValue as { values?: [] }).values ?? []).map(anyValue);
  if ('kvlistValue' in v) return attributes((v.kvlistValue as { values?: [] }).values ?? []);
  return undefined;
}

/** OTLP JSON attributes (`[{key, value}]`) as an object. */
export function attributes(list: readonly { key: string; value: Record<string, unknown> }[]): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, anyValue(a.value)]));
}
