/**
 * Does the gateway's memory come back after large answers? Sends N answers of SIZE MB each (JSON,
 * then SSE) through a gateway in its own process and prints its peak RSS and its memory after a forced GC: at start,
 * after the first answer, after all of them.
 *   node --import tsx scripts/bench/large-answers.ts [N=10] [SIZE_MB=20]
 * The mock upstream runs here, the gateway in scripts/bench/large-answer-gateway.ts (as an
 * `engineering` caller: masking on, as most calls have it). SIZE must stay under
 * limits.responseBytes (32 MiB by default), or each answer is refused instead of relayed.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockClaude } from '../../gateway/dev/mock-claude.ts';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';

interface Memory {
  peak: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const count = Number(process.argv[2] ?? 10);
const sizeMb = Number(process.argv[3] ?? 20);
const key = 'sk-bench-large-answers';
const dir = await mkdtemp(join(tmpdir(), 'sluice-large-bench-'));
const bundle = join(dir, 'sluice.tar.gz');
await buildBundle({ policiesDir: 'policies', outFile: bundle, revision: 'bench' });
const mock = await MockClaude.start({ apiKey: key, maxRecordedRequests: 1 });

const child = fork(join(import.meta.dirname, 'large-answer-gateway.ts'), [mock.url, bundle], {
  execArgv: ['--expose-gc', '--import', 'tsx'],
  env: { ...process.env, BENCH_UPSTREAM_KEY: key },
});
const [ready] = (await once(child, 'message')) as [{ ready: { url: string; token: string } }];
const { url, token } = ready.ready;

async function measure(): Promise<Memory> {
  child.send('measure');
  const [memory] = (await once(child, 'message')) as [Memory];
  return memory;
}

const ASK = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };

async function call(stream: boolean): Promise<number> {
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ ...ASK, stream }),
  });
  const bytes = (await res.arrayBuffer()).byteLength;
  if (res.status !== 200) throw new Error(`answer ${res.status}`);
  return bytes;
}

// One small answer first: the baseline is a gateway that has served a call (its audit file open, its pools warm).
mock.setFault(undefined);
await call(false);
mock.setFault({ kind: 'large-answer', bytes: sizeMb * 1024 * 1024 });
const rows: Array<[string, Memory]> = [['after 1 small answer', await measure()]];
for (const stream of [false, true]) {
  const kind = stream ? 'SSE' : 'JSON';
  for (let i = 0; i < count; i++) {
    const bytes = await call(stream);
    if (i === 0) rows.push([`after 1 ${kind} answer (${(bytes / 1024 / 1024).toFixed(1)} MB)`, await measure()]);
  }
  rows.push([`after ${count} ${kind} answers`, await measure()]);
}
console.log(`memory of the gateway process after GC, MB (${count} answers of ${sizeMb} MB each way)`);
console.log(['', 'peak since previous row', 'rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'].join('\t'));
for (const [label, m] of rows) {
  console.log([label, m.peak, m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].join('\t'));
}
child.send('stop');
await once(child, 'exit');
await mock.close();
await rm(dir, { recursive: true, force: true });
