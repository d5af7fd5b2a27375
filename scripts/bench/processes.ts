/**
 * The processes a bench run starts and stops: the mock upstream, the bare proxy and Sluice, each
 * in a process of its own so its CPU and memory are its own, and a Kafka broker for the Kafka-sink
 * runs.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';
import type { Target } from './measure.ts';

/** The upstream key the mock accepts and the proxies send: made per run, never a real one. */
export const upstreamKey = `sk-bench-${randomBytes(12).toString('hex')}`;
const children: ChildProcess[] = [];

/** What a target prints when it is ready. */
export interface TargetInfo {
  readonly url: string;
  readonly token?: string;
  readonly largePromptToken?: string;
  readonly audit?: string;
}

/**
 * A system under test in a process of its own: `mock`/`bare` from target.ts, `sluice` compiled from dist/
 * (sluice-target.mjs), as shipped. `nodeArgs` go to node itself, `env` adds to its environment.
 */
export async function startTarget(
  kind: 'mock' | 'bare' | 'sluice',
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<{ pid: number; info: TargetInfo; process: ChildProcess }> {
  const argv =
    kind === 'sluice'
      ? [...nodeArgs, 'scripts/bench/sluice-target.mjs', ...args]
      : [...nodeArgs, '--import', 'tsx', 'scripts/bench/target.ts', kind, ...args];
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...env, BENCH_UPSTREAM_KEY: upstreamKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on(
      'line',
      (l) => l.startsWith('BENCH-READY ') && resolve(l.slice('BENCH-READY '.length)),
    );
    child.once('exit', (code) => reject(new Error(`target ${kind} exited with ${code}`)));
  });
  return { pid: child.pid!, info: JSON.parse(line) as TargetInfo, process: child };
}

/** Registers a process started elsewhere (a peer gateway) to be stopped with the rest. */
export function adopt(child: ChildProcess): void {
  children.push(child);
}

export function sluiceTarget(sluice: { info: TargetInfo }): Target {
  return { url: sluice.info.url, headers: { authorization: `Bearer ${sluice.info.token}` } };
}

/**
 * A broker from scripts/kafka.sh (Maven Central jars) for the Kafka-sink run; undefined when it cannot start (no Java).
 */
export async function startKafka(dir: string): Promise<string | undefined> {
  const env = {
    ...process.env,
    SLUICE_KAFKA_DIR: join(dir, 'kafka'),
    SLUICE_KAFKA_PORT: '29492',
    SLUICE_KAFKA_CONTROLLER_PORT: '29493',
    SLUICE_KAFKA_WATCH_PID: String(process.pid),
  };
  try {
    await promisify(execFile)('bash', ['scripts/kafka.sh', 'start'], { env });
    return '127.0.0.1:29492';
  } catch (err) {
    process.stderr.write(
      `bench: no Kafka broker (${(err as Error).message.split('\n')[0]}): the Kafka-sink run is skipped\n`,
    );
    return undefined;
  }
}

/** Compiles the gateway into dist/ (a no-op when dist/ is current): Sluice is measured as shipped. */
export function buildDist(): void {
  const { status } = spawnSync(process.execPath, ['gateway/bin/dist.mjs'], { stdio: 'inherit' });
  if (status !== 0) throw new Error(`gateway/bin/dist.mjs exited with ${status}`);
}

/** SIGTERM, then SIGKILL if the process is still there after 10 s; resolves once it has exited. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Stops every process this run started. */
export async function stopAll(): Promise<void> {
  await Promise.all(children.map(stop));
}

/**
 * The shipped policy bundle, with one change: the per-subject token budgets are raised out of the
 * bench's reach. A saturation run sends tens of thousands of calls as one subject in a minute,
 * which the shipped daily budget (rightly) refuses with 429s that would be counted as throughput.
 * Every budget is still reserved and settled on every call, so the cost measured is the same.
 */
export async function benchBundle(dir: string): Promise<string> {
  const policies = join(dir, 'policies');
  await cp('policies', policies, { recursive: true });
  const dataFile = join(policies, 'sluice', 'data.json');
  const data = JSON.parse(await readFile(dataFile, 'utf8')) as {
    budgets: { subject: Record<string, { tokens?: number }> };
  };
  for (const budget of Object.values(data.budgets.subject)) budget.tokens = 1e15;
  await writeFile(dataFile, JSON.stringify(data, null, 2));
  const bundle = join(dir, 'sluice.tar.gz');
  await buildBundle({ policiesDir: policies, outFile: bundle, revision: 'bench' });
  return bundle;
}
