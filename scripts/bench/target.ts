/**
 * One system under test, in its own process so its CPU and memory are its own:
 *   target.ts mock SERVICE_MS [DELTA_INTERVAL_MS]  |  target.ts bare UPSTREAM_URL  |  target.ts sluice UPSTREAM_URL BUNDLE
 * Prints `BENCH-READY {url, token?}` when ready (other lines on stdout are the system's logs); the upstream key comes in BENCH_UPSTREAM_KEY.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../gateway/config.ts';
import { MockClaude } from '../../gateway/dev/mock-claude.ts';
import { startGateway } from '../../gateway/start.ts';
import { startBareProxy } from './bare-proxy.ts';

export const READY = 'BENCH-READY';
const [kind, arg, bundle] = process.argv.slice(2);
const key = process.env.BENCH_UPSTREAM_KEY ?? '';

function ready(info: Record<string, unknown>): void {
  process.stdout.write(`${READY} ${JSON.stringify(info)}\n`);
}

if (kind === 'mock') {
  const deltaIntervalMs = Number(process.argv[4] ?? 0);
  const mock = await MockClaude.start({ apiKey: key, serviceTimeMs: Number(arg ?? 0), deltaIntervalMs, chunkChars: 16, maxRecordedRequests: 1 });
  ready({ url: mock.url });
} else if (kind === 'bare') {
  ready({ url: (await startBareProxy(arg!, key)).url });
} else if (kind === 'sluice') {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const config = resolveConfig(
    {
      listen: { port: 0 },
      stateDir: dir,
      connections: [{ name: 'anthropic', baseUrl: arg!, apiKeyEnv: 'BENCH_UPSTREAM_KEY' }],
      policy: { bundle: bundle!, buildIfMissing: false },
      audit: { file: { path: join(dir, 'audit.jsonl') } },
      log: { level: 'warn' },
    },
    process.env,
  );
  const gateway = await startGateway(config, process.env);
  // 15-minute tokens: the run is shorter, so verification cost is the steady-state one.
  // engineering is the realistic caller (masking on); admins may send prompts past the
  // engineering group's token threshold without a human approval, for the prompt-size curve.
  const mint = (groups: string[]): Promise<string> => gateway.devIssuer!.mintToken({ sub: 'bench', groups, audience: config.identity.audience, ttlSeconds: 900 });
  const token = await mint(['engineering']);
  const largePromptToken = await mint(['admins']);
  ready({ url: gateway.url, token, largePromptToken, audit: join(dir, 'audit.jsonl') });
} else {
  process.stderr.write(`unknown target kind ${kind}\n`);
  process.exit(2);
}

// Exit normally on SIGTERM so `node --cpu-prof` can write its profile.
process.once('SIGTERM', () => process.exit(0));
