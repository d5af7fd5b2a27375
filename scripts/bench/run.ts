/**
 * `npm run bench [-- --quick]`: one run, one machine, three systems under identical load —
 * the client straight to mock Claude (baseline), a bare undici proxy (the floor) and Sluice with
 * every control it has on. Writes bench-results/latest.{json,md}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';
import { closedLoop, rssMb, saturate, type Target } from './measure.ts';
import { renderMarkdown, type BenchResult, type SystemResult } from './report.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 2000;
const WARMUP = quick ? 50 : 300;
const SECONDS = quick ? 3 : 10;
const CONNECTIONS = 32;
const SERVICE_MS = 0;
const key = `sk-bench-${randomBytes(12).toString('hex')}`;
const children: ChildProcess[] = [];

async function startTarget(...args: string[]): Promise<{ pid: number; info: { url: string; token?: string } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/target.ts', ...args], {
    env: { ...process.env, BENCH_UPSTREAM_KEY: key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`target ${args[0]} exited with ${code}`)));
  });
  return { pid: child.pid!, info: JSON.parse(line) };
}

function prompt(bytes: number, stream: boolean): string {
  const text = 'The quarterly report shows steady growth across all regions. '.repeat(Math.ceil(bytes / 62)).slice(0, bytes);
  return JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 1024, stream, messages: [{ role: 'user', content: text }] });
}

async function measureSystem(name: string, target: Target, pid: number): Promise<SystemResult> {
  process.stderr.write(`bench: ${name}: concurrency 1 …\n`);
  const json = await closedLoop(target, prompt(4096, false), N, WARMUP);
  const sse = await closedLoop(target, prompt(4096, true), Math.round(N / 4), Math.round(WARMUP / 4));
  process.stderr.write(`bench: ${name}: saturation at ${CONNECTIONS} connections for ${SECONDS}s …\n`);
  let peakRss = await rssMb(pid);
  const sampler = setInterval(() => void rssMb(pid).then((mb) => (peakRss = Math.max(peakRss, mb))), 200);
  const throughput = await saturate(target, prompt(4096, false), CONNECTIONS, SECONDS);
  clearInterval(sampler);
  return { name, json: json.total, streamFirstDelta: sse.firstDelta, failures: json.failures + sse.failures, throughput, peakRssMb: peakRss };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  const bundle = join(dir, 'sluice.tar.gz');
  await buildBundle({ policiesDir: 'policies', outFile: bundle, revision: 'bench' });
  const mock = await startTarget('mock', String(SERVICE_MS));
  const bare = await startTarget('bare', mock.info.url);
  const sluice = await startTarget('sluice', mock.info.url, bundle);
  const targets = {
    baseline: { url: mock.info.url, headers: { 'x-api-key': key } },
    bare: { url: bare.info.url, headers: {} },
    sluice: { url: sluice.info.url, headers: { authorization: `Bearer ${sluice.info.token}` } },
  };
  const systems = [
    await measureSystem('baseline (direct to mock)', targets.baseline, mock.pid),
    await measureSystem('bare undici proxy (floor)', targets.bare, bare.pid),
    await measureSystem('sluice (auth + policy + audit)', targets.sluice, sluice.pid),
  ];
  process.stderr.write('bench: prompt-size scale …\n');
  const scale = [];
  for (const bytes of [1024, 16 * 1024, 256 * 1024, 1024 * 1024]) {
    const n = quick ? 30 : 200;
    const base = await closedLoop(targets.baseline, prompt(bytes, false), n, 10);
    const gw = await closedLoop(targets.sluice, prompt(bytes, false), n, 10);
    scale.push({ promptBytes: bytes, baseline: base.total, sluice: gw.total });
  }
  const result: BenchResult = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    settings: { requests: N, warmup: WARMUP, saturationSeconds: SECONDS, connections: CONNECTIONS, promptBytes: 4096, upstreamServiceMs: SERVICE_MS, quick },
    systems,
    scale,
  };
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/latest.json', `${JSON.stringify(result, null, 2)}\n`);
  const md = renderMarkdown(result);
  await writeFile('bench-results/latest.md', md);
  process.stdout.write(md);
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGTERM');
}
