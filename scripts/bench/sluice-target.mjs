/**
 * Sluice under test, in its own process and as shipped: the compiled gateway in dist/ (build it
 * first with `node gateway/bin/dist.mjs`) under plain node, without tsx's loader.
 *   node scripts/bench/sluice-target.mjs UPSTREAM_URL BUNDLE [file|kafka] [BROKERS]
 * `file` (the default): the JSONL audit sink only; `kafka`: file + Kafka sink. BROKERS may name an
 * address nothing listens on, to measure Sluice while the broker is down (spool only).
 * Prints `BENCH-READY {url, token, largePromptToken, audit}`; the upstream key comes in
 * BENCH_UPSTREAM_KEY; BENCH_CPU_PROFILE=FILE profiles it; BENCH_AUDIT_DURABILITY and
 * BENCH_AUDIT_SYNC set audit.durability and audit.file.sync. Its temp dir (the audit file grows to
 * ~100 MB) goes when it is stopped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../dist/config.js';
import { startGateway } from '../../dist/start.js';

const [upstream, bundle, mode = 'file', brokers = ''] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
// With BENCH_CPU_PROFILE=FILE the CPU is profiled from ready to SIGTERM: the steady state under
// load, without startup (unpacking the state database, compiling the policy) in the samples.
const profileFile = process.env.BENCH_CPU_PROFILE;
const inspector = profileFile ? new Session() : undefined;
// The profile stops before the temp dir is removed, so the removal is not in its samples.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    if (!inspector) {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
    inspector.post('Profiler.stop', (err, result) => {
      rmSync(dir, { recursive: true, force: true });
      if (!err) writeFileSync(profileFile, JSON.stringify(result.profile));
      process.exit(err ? 1 : 0);
    });
  });
}

const kafka = {
  brokers: brokers.split(','),
  topics: { decisions: `bench-${process.pid}.decisions`, sessions: `bench-${process.pid}.sessions` },
  closeTimeoutMs: 0,
};
const config = resolveConfig(
  {
    listen: { port: 0 },
    stateDir: dir,
    connections: [{ name: 'anthropic', baseUrl: upstream, apiKeyEnv: 'BENCH_UPSTREAM_KEY' }],
    policy: { bundle, buildIfMissing: false },
    audit: {
      // BENCH_AUDIT_SYNC=every|interval|none: when the audit file is fdatasync'd (default none).
      file: {
        path: join(dir, 'audit.jsonl'),
        ...(process.env.BENCH_AUDIT_SYNC ? { sync: process.env.BENCH_AUDIT_SYNC } : {}),
      },
      ...(mode === 'kafka' ? { kafka } : {}),
      // BENCH_AUDIT_DURABILITY=strict: each exchange record written before its answer ends.
      ...(process.env.BENCH_AUDIT_DURABILITY ? { durability: process.env.BENCH_AUDIT_DURABILITY } : {}),
    },
    log: { level: 'warn' },
    // One load generator on one address, far past the pre-auth limits: this measures the proxy behind them.
    rateLimits: { enabled: false },
  },
  process.env,
);
const gateway = await startGateway(config, process.env);
// 15-minute tokens: the run is shorter, so verification cost is the steady-state one.
// engineering is the realistic caller (masking on); admins may send prompts past the
// engineering group's token threshold without a human approval, for the prompt-size curve.
const mint = (groups) =>
  gateway.devIssuer.mintToken({ sub: 'bench', groups, audience: config.identity.audience, ttlSeconds: 900 });
const token = await mint(['engineering']);
const largePromptToken = await mint(['admins']);
if (inspector) {
  inspector.connect();
  await new Promise((resolve, reject) =>
    inspector.post('Profiler.enable', () => inspector.post('Profiler.start', (err) => (err ? reject(err) : resolve()))),
  );
}
process.stdout.write(
  `BENCH-READY ${JSON.stringify({ url: gateway.url, token, largePromptToken, audit: join(dir, 'audit.jsonl') })}\n`,
);
