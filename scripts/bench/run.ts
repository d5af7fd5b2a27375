/**
 * `npm run bench [-- --quick]`: one run, one machine, every system under identical load — the
 * client straight to mock Claude (baseline), a bare undici proxy (the floor), Sluice with every
 * control it has on (file audit; again with the Kafka sink when scripts/kafka.sh can start a
 * broker), Portkey's gateway with a regex guardrail and LiteLLM's proxy. Each system runs in its
 * own process. Writes bench-results/latest.{json,md,svg}.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { latencyChartSvg } from './chart.ts';
import { closedLoop, peakRss, saturate, type Target, type Throughput } from './measure.ts';
import { startLiteLlm, startPortkey } from './peers.ts';
import { renderMarkdown, type BenchResult, type StateBenchResult, type SystemResult } from './report.ts';
import { stageCosts } from './stages.ts';
import {
  adopt,
  benchBundle,
  buildDist,
  sluiceTarget,
  startKafka,
  startTarget,
  stopAll,
  upstreamKey as key,
} from './processes.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 2000;
const WARMUP = quick ? 50 : 300;
const SECONDS = quick ? 3 : 10;
const CONNECTIONS = 32;
const SERVICE_MS = 0;
/**
 * Pacing of the streams that measure inter-chunk delay: a content_block_delta every 20 ms, a real model's order of
 * magnitude.
 */
const DELTA_INTERVAL_MS = 20;
/** Output cap of those streams: 40 tokens is 160 characters, 10 deltas of 16, so each stream takes ~0.2 s. */
const PACED_MAX_TOKENS = 40;
const PACED_STREAMS = quick ? 20 : 100;
const PACED_WARMUP = quick ? 3 : 5;
/** Load each system (and its paced twin) takes before it is measured. */
const WARM_SECONDS = quick ? 1 : 3;
/** Saturation rounds per system, taken in turn (saturationRounds). */
const ROUNDS = quick ? 1 : 3;
function prompt(bytes: number, stream: boolean, maxTokens = 1024): string {
  const text = 'The quarterly report shows steady growth across all regions. '
    .repeat(Math.ceil(bytes / 62))
    .slice(0, bytes);
  return JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: maxTokens,
    stream,
    messages: [{ role: 'user', content: text }],
  });
}

/** A system measured at concurrency 1, waiting for its saturation rounds. */
interface MeasuredSystem {
  readonly partial: Omit<SystemResult, 'throughput' | 'throughputRounds' | 'peakRssMb'>;
  readonly target: Target;
  readonly pid: number;
}

/** `target` is the system in front of the unpaced mock, `paced` the same system in front of the paced one. */
async function measureSystem(name: string, target: Target, paced: Target, pid: number): Promise<MeasuredSystem> {
  // A gateway in production has served traffic before: V8 has optimised its hot code and
  // tiered its WASM up from the baseline compiler. Every process, the paced twins included
  // (whose own measurement is only ~100 slow streams), gets the same load first, so what is
  // measured is the steady state, not the first requests' compilation.
  process.stderr.write(`bench: ${name}: warming up …\n`);
  await saturate(target, prompt(4096, false), CONNECTIONS, WARM_SECONDS);
  await saturate(paced, prompt(4096, true, 1), 8, WARM_SECONDS);
  process.stderr.write(`bench: ${name}: concurrency 1 …\n`);
  const json = await closedLoop(target, prompt(4096, false), N, WARMUP);
  const sse = await closedLoop(target, prompt(4096, true), Math.round(N / 2), Math.round(WARMUP / 2));
  const pacedSse = await closedLoop(paced, prompt(4096, true, PACED_MAX_TOKENS), PACED_STREAMS, PACED_WARMUP);
  return {
    partial: {
      name,
      json: json.total,
      streamFirstDelta: sse.firstDelta,
      streamFirstDeltaPaced: pacedSse.firstDelta,
      streamInterChunk: pacedSse.interChunk,
      streamBatchedDeltas: pacedSse.batchedDeltas,
      failures: json.failures + sse.failures + pacedSse.failures,
    },
    target,
    pid,
  };
}

/**
 * Saturation in rounds, every system in turn: on a shared VM a slow spell would otherwise land
 * on one system and skew the ratios. Each system's figure is its median round; failures count
 * every round; peak RSS is the highest any round reached.
 */
async function saturationRounds(systems: readonly MeasuredSystem[]): Promise<SystemResult[]> {
  const rounds = systems.map((): Throughput[] => []);
  const peaks = systems.map(() => 0);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, system] of systems.entries()) {
      process.stderr.write(
        `bench: ${system.partial.name}: saturation at ${CONNECTIONS} connections for ${SECONDS}s, ` +
          `round ${round}/${ROUNDS} …\n`,
      );
      const rss = await peakRss(system.pid);
      rounds[i]!.push(await saturate(system.target, prompt(4096, false), CONNECTIONS, SECONDS));
      peaks[i] = Math.max(peaks[i]!, await rss.stop());
    }
  }
  return systems.map((system, i) => {
    const all = rounds[i]!;
    const median = [...all].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(all.length / 2)]!;
    const sum = (key: 'non2xx' | 'errors'): number => all.reduce((n, t) => n + t[key], 0);
    return {
      ...system.partial,
      throughput: { ...median, non2xx: sum('non2xx'), errors: sum('errors') },
      throughputRounds: all.map((t) => t.requestsPerSecond),
      peakRssMb: peaks[i]!,
    };
  });
}

async function main(dir: string): Promise<void> {
  const bundle = await benchBundle(dir);
  const mock = await startTarget('mock', [String(SERVICE_MS)]);
  const bare = await startTarget('bare', [mock.info.url]);
  const sluice = await startTarget('sluice', [mock.info.url, bundle]);
  const portkey = await startPortkey(mock.info.url, key, 18787);
  adopt(portkey.process);
  const litellm = await startLiteLlm(mock.info.url, key, 18790, dir);
  adopt(litellm.process);
  // Inter-chunk delay needs an upstream that paces its deltas, which would distort every other
  // measurement, so each system has a twin (same code and settings) in front of a paced mock.
  // Choosing the pacing per request with a header would keep one set of processes, but Sluice
  // forwards only an allowlist of headers upstream and the peers their own, so it would not
  // reach the mock through every system.
  const pacedMock = await startTarget('mock', [String(SERVICE_MS), String(DELTA_INTERVAL_MS)]);
  const pacedBare = await startTarget('bare', [pacedMock.info.url]);
  const pacedSluice = await startTarget('sluice', [pacedMock.info.url, bundle]);
  const pacedPortkey = await startPortkey(pacedMock.info.url, key, 18788);
  adopt(pacedPortkey.process);
  const pacedDir = join(dir, 'paced');
  await mkdir(pacedDir);
  const pacedLitellm = await startLiteLlm(pacedMock.info.url, key, 18791, pacedDir);
  adopt(pacedLitellm.process);
  const brokers = await startKafka(dir);
  const withKafka = brokers
    ? [
        await startTarget('sluice', [mock.info.url, bundle, 'kafka', brokers]),
        await startTarget('sluice', [pacedMock.info.url, bundle, 'kafka', brokers]),
      ]
    : [];
  const baseline = { url: mock.info.url, headers: { 'x-api-key': key } };
  const gateway = sluiceTarget(sluice);
  const measured = [
    await measureSystem(
      'baseline (direct to mock)',
      baseline,
      { url: pacedMock.info.url, headers: baseline.headers },
      mock.pid,
    ),
    await measureSystem(
      'bare undici proxy (floor)',
      { url: bare.info.url, headers: {} },
      { url: pacedBare.info.url, headers: {} },
      bare.pid,
    ),
    await measureSystem('sluice (auth + policy + audit)', gateway, sluiceTarget(pacedSluice), sluice.pid),
    ...(withKafka.length === 2
      ? [
          await measureSystem(
            'sluice + Kafka audit sink',
            sluiceTarget(withKafka[0]!),
            sluiceTarget(withKafka[1]!),
            withKafka[0]!.pid,
          ),
        ]
      : []),
    await measureSystem('portkey 1.15.2 (regex guardrail)', portkey.target, pacedPortkey.target, portkey.process.pid!),
    await measureSystem('litellm 1.108.7 proxy', litellm.target, pacedLitellm.target, litellm.process.pid!),
  ];
  const systems = await saturationRounds(measured);
  process.stderr.write('bench: concurrency and prompt-size curves …\n');
  const concurrency = [];
  for (const c of [1, 4, 16, 64]) {
    const n = quick ? 200 : 2000;
    const base = await closedLoop(baseline, prompt(4096, false), n, 50, c);
    const gw = await closedLoop(gateway, prompt(4096, false), n, 50, c);
    concurrency.push({ concurrency: c, baseline: base.total, sluice: gw.total });
  }
  const largePrompts = { url: sluice.info.url, headers: { authorization: `Bearer ${sluice.info.largePromptToken}` } };
  const scale = [];
  for (const bytes of [1024, 16 * 1024, 256 * 1024, 1024 * 1024]) {
    const n = quick ? 30 : 200;
    const base = await closedLoop(baseline, prompt(bytes, false), n, 10);
    const gw = await closedLoop(largePrompts, prompt(bytes, false), n, 10);
    scale.push({ promptBytes: bytes, baseline: base.total, sluice: gw.total });
  }
  const result: BenchResult = {
    state: stateBench(),
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: {
      requests: N,
      warmup: WARMUP,
      warmSeconds: WARM_SECONDS,
      saturationRounds: ROUNDS,
      saturationSeconds: SECONDS,
      connections: CONNECTIONS,
      promptBytes: 4096,
      upstreamServiceMs: SERVICE_MS,
      pacedStreams: PACED_STREAMS,
      pacedMaxTokens: PACED_MAX_TOKENS,
      deltaIntervalMs: DELTA_INTERVAL_MS,
      quick,
    },
    systems,
    concurrency,
    scale,
    sluiceStagesUs: await stageCosts(sluice.info.audit!),
    sluiceStagesPacedUs: await stageCosts(
      pacedSluice.info.audit!,
      (session) => (session.request as { max_tokens?: number } | null)?.max_tokens === PACED_MAX_TOKENS,
    ),
  };
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/latest.json', `${JSON.stringify(result, null, 2)}\n`);
  const md = renderMarkdown(result);
  await writeFile('bench-results/latest.md', md);
  await writeFile(
    'bench-results/latency.svg',
    latencyChartSvg(systems, `Latency per system, ${result.machine.cores} cores, ${result.date.slice(0, 10)}`),
  );
  process.stdout.write(md);
}

/** The state database's own bench (its process, its PostgreSQL), folded into this run's results. */
function stateBench(): StateBenchResult | undefined {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/bench/state-bench.ts', ...(quick ? ['--quick'] : [])],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (run.status !== 0) return undefined;
  return JSON.parse(readFileSync('bench-results/state.json', 'utf8')) as StateBenchResult;
}

buildDist();
const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
try {
  await main(dir);
} finally {
  // Each Sluice target removes its own temp dir (its audit file) when stopped; this run's goes once they have exited.
  await stopAll();
  await rm(dir, { recursive: true, force: true });
}
