/**
 * Load drivers: a closed loop at concurrency 1 with microsecond HDR histograms (for added
 * latency, where autocannon's millisecond resolution is too coarse) and autocannon for
 * saturation throughput.
 */
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly mean: number;
  readonly count: number;
}

function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

function percentilesMs(h: hdr.Histogram): Percentiles {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    mean: ms(h.mean),
    count: h.totalCount,
  };
}

export interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
}

const DELTA_EVENT = 'event: content_block_delta';

/**
 * Counts the `event: content_block_delta` lines in each read of an SSE body. The last bytes of
 * the previous read are searched again with the next one, so a line split across two reads is
 * counted once, in the read that completes it (the line has no prefix that is also its suffix,
 * so no line is counted twice).
 */
function deltaEventCounter(): (chunk: Buffer) => number {
  let carried = Buffer.alloc(0);
  return (chunk) => {
    const text = Buffer.concat([carried, chunk]);
    let deltas = 0;
    for (let at = text.indexOf(DELTA_EVENT); at !== -1; at = text.indexOf(DELTA_EVENT, at + DELTA_EVENT.length))
      deltas++;
    carried = text.subarray(Math.max(0, text.length - (DELTA_EVENT.length - 1)));
    return deltas;
  };
}

export interface ClosedLoopResult {
  readonly total: Percentiles;
  /** Streams: request sent to the first read carrying a content_block_delta. */
  readonly firstDelta: Percentiles;
  /**
   * Streams: the gap between consecutive reads that each carry at least one content_block_delta.
   * A read can carry several deltas (a proxy buffered them, or the client read late and got what
   * had piled up); the deltas after the first in a read have no gap of their own and are counted
   * in `batchedDeltas` instead, so a system that buffers shows up there rather than as gaps of 0.
   */
  readonly interChunk: Percentiles;
  readonly batchedDeltas: number;
  readonly failures: number;
}

/**
 * Closed loop: `concurrency` clients, each on its own keep-alive connection, sending requests
 * back to back until `count` are measured (after `warmup`). Times in ms, taken when a read of
 * the response body reaches the client.
 */
export async function closedLoop(
  target: Target,
  body: string,
  count: number,
  warmup: number,
  concurrency = 1,
): Promise<ClosedLoopResult> {
  const total = histogram();
  const firstDelta = histogram();
  const interChunk = histogram();
  let batchedDeltas = 0;
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
        const countDeltas = deltaEventCounter();
        let firstDeltaAt: number | undefined;
        let lastDeltaAt: number | undefined;
        for await (const chunk of res.body) {
          const now = performance.now();
          const deltas = countDeltas(chunk as Buffer);
          if (deltas === 0) continue;
          firstDeltaAt ??= now;
          if (measured) {
            if (lastDeltaAt !== undefined) interChunk.recordValue(Math.max(1, (now - lastDeltaAt) * 1000));
            batchedDeltas += deltas - 1;
          }
          lastDeltaAt = now;
        }
        const end = performance.now();
        if (res.statusCode !== 200) failures++;
        if (!measured) continue;
        total.recordValue(Math.max(1, (end - start) * 1000));
        if (firstDeltaAt !== undefined) firstDelta.recordValue(Math.max(1, (firstDeltaAt - start) * 1000));
      }
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    total: percentilesMs(total),
    firstDelta: percentilesMs(firstDelta),
    interChunk: percentilesMs(interChunk),
    batchedDeltas,
    failures,
  };
}

export interface Throughput {
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p99: number };
  readonly non2xx: number;
  readonly errors: number;
}

/** Saturation: autocannon with `connections` concurrent keep-alive connections for `seconds`. */
export async function saturate(
  target: Target,
  body: string,
  connections: number,
  seconds: number,
): Promise<Throughput> {
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

/**
 * Peak resident set size of a process in MB (Linux) from this call until `stop()`, sampled by
 * rss-sampler.mjs in a process of its own: the driver's event loop is busy with the load and
 * would miss short peaks.
 */
export async function peakRss(pid: number): Promise<{ stop(): Promise<number> }> {
  const sampler = spawn(process.execPath, [fileURLToPath(new URL('./rss-sampler.mjs', import.meta.url)), String(pid)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: sampler.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) throw new Error(`rss-sampler for ${pid} exited early`);
    return line.value;
  };
  await next(); // ready
  return {
    async stop() {
      sampler.stdin!.end();
      return Number(await next());
    },
  };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the first, utime the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
