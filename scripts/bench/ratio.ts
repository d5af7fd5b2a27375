/**
 * `npm run bench:ratio [-- --quick] [--profile] [--no-kafka] [--strict] [--sync every|interval|none]`:
 * Sluice against a bare proxy on the workload a team actually sends — a 4 KB prompt with one e-mail
 * address (request masking with restore, response scan) and the same prompt without entities —
 * with every control on (shipped default policy, group engineering, file audit; then the Kafka
 * sink). Bare proxy and Sluice runs alternate in rounds, so a slow spell of the machine lands on
 * both; each figure is a median round, throughput at 32 connections and latency at 1 alike.
 * `--profile` also profiles one Sluice (V8's CPU profiler,
 * from ready to stop) at 32 connections and lists the top self-time functions (and profiles one
 * with the Kafka sink, when a broker runs). `--strict` adds a Sluice with `audit.durability:
 * strict` (file audit). `--sync` sets every Sluice's `audit.file.sync` (default none): strict's
 * cost is one more write before an answer's end, and with `every` one more sync. It also
 * measures what a call allocates (V8's GC trace, in a bare proxy and a Sluice of their own). Writes
 * bench-results/ratio.{json,md} (and bench-results/profile/).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { topSelfTime, type SelfTime } from './cpu-profile.ts';
import { garbagePerCall, GcTrace, type GarbagePerCall } from './gc-trace.ts';
import { closedLoop, cpuSeconds, peakRss, saturate, type Percentiles, type Target } from './measure.ts';
import { benchBundle, buildDist, sluiceTarget, startKafka, startTarget, stop, stopAll } from './processes.ts';

const quick = process.argv.includes('--quick');
const profile = process.argv.includes('--profile');
const withKafka = !process.argv.includes('--no-kafka');
const withStrict = process.argv.includes('--strict');
const sync = process.argv.includes('--sync') ? process.argv[process.argv.indexOf('--sync') + 1] : undefined;
if (sync !== undefined && !['every', 'interval', 'none'].includes(sync))
  throw new Error(`--sync takes every, interval or none, not ${sync}`);
// Every Sluice target inherits the environment (sluice-target.mjs reads it).
if (sync) process.env.BENCH_AUDIT_SYNC = sync;
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 4 : 10;
const WARM_SECONDS = quick ? 2 : 4;
const CONNECTIONS = 32;
const C1_REQUESTS = quick ? 500 : 3000;
/** Calls per prompt and system for the garbage figure: enough collections that one more or less is noise. */
const GARBAGE_REQUESTS = quick ? 1000 : 6000;

/** A 4 KB prompt; `email` puts one address in the middle of it. */
function prompt(email: boolean): string {
  const filler = 'The quarterly report shows steady growth across all regions. ';
  const half = filler.repeat(33).slice(0, 2000);
  const middle = email ? ' Please send the figures to dana.whitfield@example.com before Friday. ' : ' '.repeat(70);
  return JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: 1024,
    messages: [{ role: 'user', content: `${half}${middle}${half}` }],
  });
}

interface Row {
  readonly prompt: string;
  readonly system: string;
  readonly rounds: number[];
  readonly median: number;
  readonly ratio: number | null;
  /** Median round's p50 and p99 at concurrency 1 (ms), and each round's p99. */
  readonly c1: { p50: number; p99: number };
  readonly c1P99Rounds: number[];
  readonly addedP99Ms: number | null;
  readonly peakRssMb: number;
  /** CPU the system's process used at 32 connections, in cores (median round). */
  readonly cores: number;
  /** The same for the process it needs beside it (the Kafka broker), or null. */
  readonly helperCores: number | null;
  readonly failures: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(dir: string): Promise<void> {
  const bundle = await benchBundle(dir);
  const mock = await startTarget('mock', ['0']);
  const bare = await startTarget('bare', [mock.info.url]);
  // `helper`: a process the system needs beside its own (the Kafka broker), whose CPU is shown too.
  const systems: { name: string; target: Target; pid: number; helper?: number }[] = [
    { name: 'bare undici proxy', target: { url: bare.info.url, headers: {} }, pid: bare.pid },
  ];
  const file = await startTarget('sluice', [mock.info.url, bundle]);
  systems.push({ name: 'Sluice, file audit', target: sluiceTarget(file), pid: file.pid });
  if (withStrict) {
    const strict = await startTarget('sluice', [mock.info.url, bundle], [], { BENCH_AUDIT_DURABILITY: 'strict' });
    systems.push({ name: 'Sluice, file audit, durability strict', target: sluiceTarget(strict), pid: strict.pid });
  }
  const brokers = withKafka ? await startKafka(dir) : undefined;
  if (brokers) {
    const kafka = await startTarget('sluice', [mock.info.url, bundle, 'kafka', brokers]);
    const broker = Number((await readFile(join(dir, 'kafka', 'broker.pid'), 'utf8')).trim());
    systems.push({ name: 'Sluice, file + Kafka audit', target: sluiceTarget(kafka), pid: kafka.pid, helper: broker });
  }
  const rows: Row[] = [];
  for (const [label, body] of [
    ['4 KB, one e-mail', prompt(true)],
    ['4 KB, no entities', prompt(false)],
  ] as const) {
    const rounds = systems.map((): number[] => []);
    const peaks = systems.map(() => 0);
    // CPU used while loaded, in cores (CPU seconds per second): the system's process, and its helper's.
    const cores = systems.map((): { own: number[]; helper: number[] } => ({ own: [], helper: [] }));
    const failures = systems.map(() => 0);
    for (const s of systems) {
      process.stderr.write(`bench: ${label}: ${s.name}: warming up …\n`);
      await saturate(s.target, body, CONNECTIONS, WARM_SECONDS);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, s] of systems.entries()) {
        process.stderr.write(`bench: ${label}: ${s.name}: ${CONNECTIONS} connections, round ${round}/${ROUNDS} …\n`);
        const rss = await peakRss(s.pid);
        const cpu0 = [cpuSeconds(s.pid), s.helper ? cpuSeconds(s.helper) : 0];
        const t0 = performance.now();
        const t = await saturate(s.target, body, CONNECTIONS, SECONDS);
        const wall = (performance.now() - t0) / 1000;
        cores[i]!.own.push((cpuSeconds(s.pid) - cpu0[0]!) / wall);
        if (s.helper) cores[i]!.helper.push((cpuSeconds(s.helper) - cpu0[1]!) / wall);
        peaks[i] = Math.max(peaks[i]!, await rss.stop());
        rounds[i]!.push(t.requestsPerSecond);
        failures[i]! += t.non2xx + t.errors;
      }
    }
    // Concurrency 1 alternates in rounds too: a p99 is the 1% slowest calls, so one stall of the VM
    // in a single run moved it by 1–2 ms. Each system's figure is its median round.
    const c1Rounds = systems.map((): Percentiles[] => []);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, s] of systems.entries()) {
        process.stderr.write(`bench: ${label}: ${s.name}: concurrency 1, round ${round}/${ROUNDS} …\n`);
        const r = await closedLoop(s.target, body, C1_REQUESTS, 100);
        c1Rounds[i]!.push(r.total);
        failures[i]! += r.failures;
      }
    }
    const c1 = c1Rounds.map((rs) => ({ p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) }));
    const bareMedian = median(rounds[0]!);
    systems.forEach((s, i) => {
      rows.push({
        prompt: label,
        system: s.name,
        rounds: rounds[i]!,
        median: median(rounds[i]!),
        ratio: i === 0 ? null : Math.round((median(rounds[i]!) / bareMedian) * 100) / 100,
        c1: c1[i]!,
        c1P99Rounds: c1Rounds[i]!.map((r) => r.p99),
        addedP99Ms: i === 0 ? null : Math.round((c1[i]!.p99 - c1[0]!.p99) * 100) / 100,
        peakRssMb: peaks[i]!,
        cores: Math.round(median(cores[i]!.own) * 100) / 100,
        helperCores: s.helper ? Math.round(median(cores[i]!.helper) * 100) / 100 : null,
        failures: failures[i]!,
      });
    });
  }
  const garbage = await garbageRun(mock.info.url, bundle);
  const top = profile ? await profileRun(mock.info.url, bundle) : undefined;
  if (profile && brokers) await profileRun(mock.info.url, bundle, brokers);
  const result = {
    date: new Date().toISOString(),
    command: `npm run bench:ratio --${process.argv
      .slice(2)
      .map((a) => ` ${a}`)
      .join('')}`,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: {
      rounds: ROUNDS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      c1Requests: C1_REQUESTS,
      garbageRequests: GARBAGE_REQUESTS,
    },
    rows,
    garbage,
    ...(top ? { profileTop: top } : {}),
  };
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/ratio.json', `${JSON.stringify(result, null, 2)}\n`);
  const md = render(result.rows, garbage, top, result);
  await writeFile('bench-results/ratio.md', md);
  process.stdout.write(md);
}

interface GarbageRow extends GarbagePerCall {
  readonly prompt: string;
  readonly system: string;
}

/**
 * What a call allocates, in a bare proxy and a Sluice (file audit) of their own started with
 * `--trace-gc-nvp` (the GC trace is the measurement, so the timed systems run without it): at
 * one connection, GARBAGE_REQUESTS calls per prompt after a warm-up at 32 connections.
 */
async function garbageRun(upstream: string, bundle: string): Promise<GarbageRow[]> {
  const traced = ['--trace-gc-nvp'];
  const systems = [
    { name: 'bare undici proxy', started: await startTarget('bare', [upstream], traced) },
    { name: 'Sluice, file audit', started: await startTarget('sluice', [upstream, bundle], traced) },
  ].map(({ name, started }) => ({
    name,
    started,
    target: started.info.token ? sluiceTarget(started) : { url: started.info.url, headers: {} },
    trace: new GcTrace(started.process.stdout!),
  }));
  const rows: GarbageRow[] = [];
  for (const [label, body] of [
    ['4 KB, one e-mail', prompt(true)],
    ['4 KB, no entities', prompt(false)],
  ] as const) {
    for (const s of systems) {
      process.stderr.write(`bench: ${label}: ${s.name}: garbage per call …\n`);
      await closedLoop(s.target, body, 500, 0, CONNECTIONS);
      const before = s.trace.totals();
      await closedLoop(s.target, body, GARBAGE_REQUESTS, 0);
      rows.push({ prompt: label, system: s.name, ...garbagePerCall(before, s.trace.totals(), GARBAGE_REQUESTS) });
    }
  }
  for (const s of systems) await stop(s.started.process);
  return rows;
}

/**
 * One more Sluice, profiled while loaded at 32 connections with the e-mail prompt: with the file
 * audit (sluice-c32.cpuprofile), or with `brokers` the Kafka sink as well (sluice-kafka-c32.cpuprofile).
 */
async function profileRun(upstream: string, bundle: string, brokers?: string): Promise<SelfTime[]> {
  const out = join('bench-results', 'profile');
  await mkdir(out, { recursive: true });
  const file = join(out, brokers ? 'sluice-kafka-c32.cpuprofile' : 'sluice-c32.cpuprofile');
  await rm(file, { force: true });
  const args = brokers ? [upstream, bundle, 'kafka', brokers] : [upstream, bundle];
  const sluice = await startTarget('sluice', args, [], { BENCH_CPU_PROFILE: file });
  process.stderr.write(`bench: profiling Sluice${brokers ? ' with Kafka' : ''} at 32 connections …\n`);
  await saturate(sluiceTarget(sluice), prompt(true), CONNECTIONS, WARM_SECONDS);
  await saturate(sluiceTarget(sluice), prompt(true), CONNECTIONS, SECONDS);
  await stop(sluice.process);
  return topSelfTime(file, 25);
}

function render(
  rows: readonly Row[],
  garbage: readonly GarbageRow[],
  top: readonly SelfTime[] | undefined,
  meta: { date: string; command: string; machine: object },
): string {
  const lines = [
    `# Sluice against a bare proxy (${meta.date.slice(0, 10)})`,
    '',
    `\`${meta.command}\` on ${JSON.stringify(meta.machine)}`,
    '',
    '| prompt | system | req/s @32 (median) | rounds | vs bare | p50 / p99 @1 (ms; p99 rounds) | added p99 @1 ' +
      '| peak RSS | CPU @32 (cores) | fail |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const ratio = r.ratio === null ? '–' : `${r.ratio}×`;
      const added = r.addedP99Ms === null ? '–' : `${r.addedP99Ms} ms`;
      const c1 = `${r.c1.p50} / ${r.c1.p99} (${r.c1P99Rounds.join(' / ')})`;
      const cells = [
        r.prompt,
        r.system,
        r.median,
        r.rounds.join(' / '),
        ratio,
        c1,
        added,
        `${r.peakRssMb} MB`,
        r.helperCores === null ? `${r.cores}` : `${r.cores} + broker ${r.helperCores}`,
        r.failures,
      ];
      return `| ${cells.join(' | ')} |`;
    }),
    '',
    'Garbage per call at one connection (`node --trace-gc-nvp`: bytes allocated between collections):',
    '',
    '| prompt | system | KB allocated per call | calls per collection | GC pause per call (µs) |',
    '|---|---|---|---|---|',
    ...garbage.map(
      (g) => `| ${g.prompt} | ${g.system} | ${g.kbPerCall} | ${g.callsPerCollection} | ${g.pauseUsPerCall} |`,
    ),
    '',
  ];
  if (top) {
    lines.push('Top self-time functions, Sluice at 32 connections (bench-results/profile/*.cpuprofile):', '');
    lines.push('| function | where | ms | % |', '|---|---|---|---|');
    for (const t of top) lines.push(`| ${t.fn} | ${t.where} | ${t.ms} | ${t.percent} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

buildDist();
const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
try {
  await main(dir);
} finally {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
}
