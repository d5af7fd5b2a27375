/**
 * The gateway measured by large-answers.ts, in a process of its own (forked with --expose-gc and
 * an IPC channel): `large-answer-gateway.ts UPSTREAM_URL BUNDLE`. Sends `{ready: {url, token}}`;
 * on the message `measure` it notes its peak RSS since the last one, collects garbage (twice, so
 * finalizers' frees count) and answers with its memory figures in MB.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/start.ts';

const [upstream, bundle] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'sluice-large-'));
const config = resolveConfig(
  {
    listen: { port: 0 },
    stateDir: dir,
    connections: [{ name: 'anthropic', baseUrl: upstream, apiKeyEnv: 'BENCH_UPSTREAM_KEY' }],
    policy: { bundle, buildIfMissing: false, watch: false },
    audit: { file: { path: join(dir, 'audit.jsonl') }, anchorIntervalSeconds: 0 },
    log: { level: 'warn' },
    // One load generator on one address, far past the pre-auth limits: this measures the proxy behind them.
    rateLimits: { enabled: false },
  },
  process.env,
);
const gateway = await startGateway(config, process.env);
const audience = config.identity.audience;
const token = await gateway.devIssuer!.mintToken({ sub: 'bench', groups: ['engineering'], audience, ttlSeconds: 900 });

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
/** Peak RSS since the last call (VmHWM, then reset with clear_refs 5), in MB; Linux only, else 0. */
function peakSinceLast(): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
    writeFileSync('/proc/self/clear_refs', '5');
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}
process.on('message', async (message) => {
  if (message === 'measure') {
    const peak = peakSinceLast();
    await gateway.audit.flush();
    for (let i = 0; i < 2; i++) {
      globalThis.gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const m = process.memoryUsage();
    const keys = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'] as const;
    const figures = Object.fromEntries(keys.map((k) => [k, mb(m[k])]));
    process.send!({ peak, ...figures });
  } else if (message === 'stop') {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
});
process.send!({ ready: { url: gateway.url, token } });
