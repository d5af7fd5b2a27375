/**
 * Masking benchmark (not a test): detector scan throughput on plain text of 1 KB, 100 KB and
 * 1 MB; a 1 MB Messages request inspected and masked; and the time the stream masker adds to
 * the first text delta of a streamed answer (time to first token) when no entity spans it.
 * Writes bench-results/mask.json. Run: node --import tsx scripts/bench/mask-bench.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildDetectorKit } from '../../gateway/inspect/detector-kit.ts';
import { scanRequest } from '../../gateway/inspect/request-entities.ts';
import { maskStage } from '../../gateway/mask/mask-stage.ts';
import { PlaceholderNumbering } from '../../gateway/mask/placeholder-numbering.ts';
import { MaskPlan } from '../../gateway/mask/mask-plan.ts';
import { SseStreamMasker } from '../../gateway/relay/sse-stream-masker.ts';
import { formatSseEvent } from '../../gateway/relay/sse-writer.ts';

const kit = buildDetectorKit({});
const ALL = {
  request: kit.detector.types,
  response: kit.detector.types,
  style: 'placeholder' as const,
  restore: false,
};
const PROSE =
  'The deployment finished at 10:15 UTC and the report covers 42 services across three regions; ' +
  'latency stayed under budget, and the team will review the dashboards on Monday before the next release. ';

const plain = (bytes: number): string => PROSE.repeat(Math.ceil(bytes / PROSE.length)).slice(0, bytes);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

function time(run: () => void, reps: number): number[] {
  for (let i = 0; i < Math.min(reps, 5); i++) run();
  return Array.from({ length: reps }, () => {
    const t = performance.now();
    run();
    return performance.now() - t;
  });
}

const scan: Record<string, { ms_median: number; mb_per_s: number }> = {};
for (const [name, bytes, reps] of [
  ['1KB', 1024, 5000],
  ['100KB', 100 * 1024, 200],
  ['1MB', 1024 * 1024, 30],
] as const) {
  const text = plain(bytes);
  const ms = median(time(() => kit.detector.scan(text), reps));
  scan[name] = { ms_median: round(ms), mb_per_s: round(bytes / 1e6 / (ms / 1000)) };
}

// 1 MB prompt in 64 messages, one email and one card per 16 KB.
const messages = Array.from({ length: 64 }, (_, i) => ({
  role: 'user',
  content: `${plain(16 * 1024 - 60)} mail u${i}@example.com card 4111 1111 1111 1111`,
}));
const body1mb = (): unknown => ({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: structuredClone(messages) });
const inspectMask = time(() => {
  const body = body1mb();
  const scan = scanRequest(body, kit.detector);
  const detection = { facts: undefined as never, scan, maskedInputPaths: [], kit };
  const parsed = { raw: Buffer.alloc(0), value: body, forward: Buffer.alloc(0) };
  maskStage(detection, parsed, ALL, Buffer.alloc(32), new PlaceholderNumbering(Buffer.alloc(32)));
}, 30);

// Added time to first token: the first text_delta chunk through the masker vs. a plain copy.
const start = formatSseEvent('content_block_start', {
  type: 'content_block_start',
  index: 0,
  content_block: { type: 'text', text: '' },
});
const first = Buffer.from(
  formatSseEvent('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'Sure, here is the summary you asked for. ' },
  }),
);
const ttft = Array.from({ length: 5000 }, () => {
  const masker = new SseStreamMasker(new MaskPlan(kit, ALL, Buffer.alloc(32)));
  masker.push(Buffer.from(start));
  const t = performance.now();
  masker.push(first);
  return performance.now() - t;
});

const results = {
  node: process.version,
  scan_plain_text: scan,
  inspect_and_mask_1mb_ms: { median: round(median(inspectMask)), p99: round(pct(inspectMask, 0.99)) },
  stream_added_ttft_ms: { median: round(median(ttft)), p99: round(pct(ttft, 0.99)) },
  targets: { scan_mb_per_s: 100, inspect_and_mask_1mb_ms: 20, stream_added_ttft_p99_ms: 1 },
};
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/mask.json', `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
