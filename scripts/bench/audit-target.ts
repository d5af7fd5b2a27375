/**
 * Sluice for the audit benchmark, in its own process:
 *   audit-target.ts UPSTREAM_URL BUNDLE file|kafka [BROKERS]
 * `file`: the JSONL sink only; `kafka`: file + Kafka sink (spool in a temp dir). BROKERS may name
 * an address nothing listens on, to measure Sluice while the broker is down (spool only).
 * Prints `BENCH-READY {url, token}`; the upstream key comes in BENCH_UPSTREAM_KEY.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/start.ts';

const [upstream, bundle, mode, brokers] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'sluice-audit-bench-'));
const config = resolveConfig(
  {
    listen: { port: 0 },
    stateDir: dir,
    connections: [{ name: 'anthropic', baseUrl: upstream!, apiKeyEnv: 'BENCH_UPSTREAM_KEY' }],
    policy: { bundle: bundle!, buildIfMissing: false },
    audit: {
      file: { path: join(dir, 'audit.jsonl') },
      ...(mode === 'kafka' ? { kafka: { brokers: brokers!.split(','), topics: { decisions: `bench-${process.pid}.decisions`, sessions: `bench-${process.pid}.sessions` }, closeTimeoutMs: 0 } } : {}),
    },
    log: { level: 'warn' },
  },
  process.env,
);
const gateway = await startGateway(config, process.env);
const token = await gateway.devIssuer!.mintToken({ sub: 'bench', groups: ['engineering'], audience: config.identity.audience, ttlSeconds: 900 });
process.stdout.write(`BENCH-READY ${JSON.stringify({ url: gateway.url, token })}\n`);
process.once('SIGTERM', () => process.exit(0));
