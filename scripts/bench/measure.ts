/**
 * Load drivers: a closed loop at concurrency 1 with microsecond HDR histograms (for added
 * latency, where autocannon's millisecond resolution is too coarse) and autocannon for
 * saturation throughput.
 */
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly mean: number;
  readonly count: number;
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

function percentilesMs(h: hdr.Histogram): Percentiles {
  const ms = (us: number): number => Math.round(us) / 1000;
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), mean: ms(h.mean), count: h.totalCount };
}

export interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
}

/**
 * Closed loop: `concurrency` clients, each on its own keep-alive connection, sending requests
 * back to back until `count` are measured (after `warmup`). Total and time-to-first-delta (ms).
 */
export async function closedLoop(
  target: Target,
  body: string,
  count: number,
  warmup: number,
  concurrency = 1,
): Promise<{ total: Percentiles; firstDelta: Percentiles; failures: number }> {
  const total = histogram();
  const firstDelta = histogram();
  let failures = 0;
  let issued = 0;
  const headers = { ...target.headers, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
  const worker = async (): Promise<void> => {
    // A request that never completes (e.g. held for approval) fails the run instead of hanging it.
    const client = new Client(target.url, { pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
    try {
      while (issued < warmup + count) {
        const measured = issued++ >= warmup;
        const start = performance.now();
        const res = await client.request({ method: 'POST', path: '/v1/messages', headers, body });
        let deltaAt: number | undefined;
        for await (const chunk of res.body) {
          if (deltaAt === undefined && (chunk as Buffer).includes('content_block_delta')) deltaAt = performance.now();
        }
        const end = performance.now();
        if (res.statusCode !== 200) failures++;
        if (!measured) continue;
        total.recordValue(Math.max(1, (end - start) * 1000));
        if (deltaAt !== undefined) firstDelta.recordValue(Math.max(1, (deltaAt - start) * 1000));
      }
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { total: percentilesMs(total), firstDelta: percentilesMs(firstDelta), failures };
}

export interface Throughput {
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p99: number };
  readonly non2xx: number;
  readonly errors: number;
}

/** Saturation: autocannon with `connections` concurrent keep-alive connections for `seconds`. */
export async function saturate(target: Target, body: string, connections: number, seconds: number): Promise<Throughput> {
  const result = await autocannon({
    url: `${target.url}/v1/messages`,
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body,
    connections,
    duration: seconds,
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** Resident set size of a process in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
