/**
 * One system under test, in its own process so its CPU and memory are its own:
 *   target.ts mock SERVICE_MS [DELTA_INTERVAL_MS]  |  target.ts bare UPSTREAM_URL
 * Prints `BENCH-READY {url}` when ready (other lines on stdout are the system's logs); the upstream key comes
 * in BENCH_UPSTREAM_KEY.
 * Sluice itself runs compiled, without tsx, from sluice-target.mjs.
 */
import { MockClaude } from '../../gateway/dev/mock-claude.ts';
import { startBareProxy } from './bare-proxy.ts';

export const READY = 'BENCH-READY';
const [kind, arg] = process.argv.slice(2);
const key = process.env.BENCH_UPSTREAM_KEY ?? '';

function ready(info: Record<string, unknown>): void {
  process.stdout.write(`${READY} ${JSON.stringify(info)}\n`);
}

if (kind === 'mock') {
  const deltaIntervalMs = Number(process.argv[4] ?? 0);
  const mock = await MockClaude.start({
    apiKey: key,
    serviceTimeMs: Number(arg ?? 0),
    deltaIntervalMs,
    chunkChars: 16,
    maxRecordedRequests: 1,
  });
  ready({ url: mock.url });
} else if (kind === 'bare') {
  ready({ url: (await startBareProxy(arg!, key)).url });
} else {
  process.stderr.write(`unknown target kind ${kind}\n`);
  process.exit(2);
}

// Exit normally on SIGTERM so `node --cpu-prof` can write its profile.
process.once('SIGTERM', () => process.exit(0));
