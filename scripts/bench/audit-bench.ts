/**
 * `node --import tsx scripts/bench/audit-bench.ts [--quick]`: what the Kafka audit sink costs.
 * The same Sluice (each in its own process) with the file sink only, with file + Kafka (a real
 * broker from scripts/kafka.sh), and with file + Kafka while the broker is down (every event
 * stays in the spool). Added latency at concurrency 1 and saturation req/s at 32 connections.
 * Writes bench-results/audit-kafka.{json,md}. Sluice runs compiled from dist/ without tsx, as shipped
 * (sluice-target.mjs; dist/ is built first).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';
import { closedLoop, saturate, type Target } from './measure.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 1500;
const SECONDS = quick ? 4 : 10;
const key = `sk-bench-${randomBytes(12).toString('hex')}`;
const children: ChildProcess[] = [];
const run = promisify(execFile);

/** SIGTERM; resolves once the process has exited (the Sluice target then has removed its temp dir). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** `script` runs under plain node when it is JavaScript (sluice-target.mjs), through tsx when TypeScript. */
async function start(script: string, ...args: string[]): Promise<{ url: string; token?: string; pid: number }> {
  const child = spawn(process.execPath, [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), script, ...args], {
    env: { ...process.env, BENCH_UPSTREAM_KEY: key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on(
      'line',
      (l) => l.startsWith('BENCH-READY ') && resolve(l.slice('BENCH-READY '.length)),
    );
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as { url: string; token?: string }), pid: child.pid! };
}

const body = JSON.stringify({
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'The quarterly report shows steady growth. '.repeat(100) }],
});

/** CPU seconds (user + system) a process has used, from /proc: robust to other load on the machine. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

async function measure(name: string, target: Target, pid: number) {
  process.stderr.write(`audit-bench: ${name} …\n`);
  const latency = await closedLoop(target, body, N, Math.round(N / 5));
  const cpu0 = await cpuSeconds(pid);
  const throughput = await saturate(target, body, 32, SECONDS);
  const cpuUsPerRequest = Math.round(
    (((await cpuSeconds(pid)) - cpu0) * 1e6) / Math.max(1, throughput.requestsPerSecond * SECONDS),
  );
  const metrics = await (await fetch(`${target.url}/metrics`)).text();
  const depth = Number(/^sluice_audit_kafka_spool_depth_records (\S+)$/m.exec(metrics)?.[1] ?? 0);
  return {
    name,
    p50: latency.total.p50,
    p99: latency.total.p99,
    rps: throughput.requestsPerSecond,
    cpuUsPerRequest,
    failures: latency.failures + throughput.non2xx + throughput.errors,
    spoolDepthAfter: depth,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-audit-bench-'));
const kafkaEnv = {
  ...process.env,
  SLUICE_KAFKA_DIR: join(dir, 'kafka'),
  SLUICE_KAFKA_PORT: '29392',
  SLUICE_KAFKA_CONTROLLER_PORT: '29393',
  SLUICE_KAFKA_WATCH_PID: String(process.pid),
};
try {
  const bundle = join(dir, 'sluice.tar.gz');
  await buildBundle({ policiesDir: 'policies', outFile: bundle, revision: 'bench' });
  await run(process.execPath, ['gateway/bin/dist.mjs']);
  await run('bash', ['scripts/kafka.sh', 'start'], { env: kafkaEnv });
  const mock = await start('scripts/bench/target.ts', 'mock', '0');
  const results = [];
  for (const [name, mode, brokers] of [
    ['file sink only', 'file', ''],
    ['file + Kafka sink', 'kafka', '127.0.0.1:29392'],
    ['file + Kafka, broker down (spool only)', 'kafka', '127.0.0.1:29394'],
  ] as const) {
    const s = await start('scripts/bench/sluice-target.mjs', mock.url, bundle, mode, brokers);
    results.push(await measure(name, { url: s.url, headers: { authorization: `Bearer ${s.token}` } }, s.pid));
    await stop(children.pop()!);
  }
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.rps} | ${r.cpuUsPerRequest} | ${r.p50} | ${r.p99} | ${r.spoolDepthAfter} | ${r.failures} |`,
  );
  const md = [
    `Audit sinks, ${N} sequential calls then ${SECONDS}s at 32 connections (mock upstream, 4 KB prompt)`,
    '',
    '| audit | req/s | Sluice CPU µs/req | p50 ms (c=1) | p99 ms (c=1) | spool depth after | failures |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/audit-kafka.json', JSON.stringify(results, null, 2));
  await writeFile('bench-results/audit-kafka.md', md);
  process.stdout.write(md);
} finally {
  await Promise.all(children.map(stop));
  await run('bash', ['scripts/kafka.sh', 'stop'], { env: kafkaEnv }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
