/** The bench result's shape and its markdown rendering (ratios from the same run). */
import type { Percentiles, Throughput } from './measure.ts';

export interface SystemResult {
  readonly name: string;
  readonly json: Percentiles;
  /**
   * Time to the first delta when the upstream sends its whole answer at once (the unpaced mock): a worst case, see
   * firstDeltaPaced.
   */
  readonly streamFirstDelta: Percentiles;
  /**
   * Time to the first delta from the paced mock, whose first read carries the opening events and one delta, as a real
   * model's does.
   */
  readonly streamFirstDeltaPaced: Percentiles;
  /** Gaps between reads carrying content_block_delta events, from the paced mock (measure.ts closedLoop). */
  readonly streamInterChunk: Percentiles;
  /** Deltas that reached the client in the same read as an earlier one, so without a gap of their own. */
  readonly streamBatchedDeltas: number;
  readonly failures: number;
  /** The median of the saturation rounds (failures summed over all of them). */
  readonly throughput: Throughput;
  /** req/s of each saturation round, in order. */
  readonly throughputRounds?: readonly number[];
  readonly peakRssMb: number;
}

export interface BenchResult {
  readonly date: string;
  readonly machine: { cpu: string; cores: number; memoryGb: number; node: string };
  readonly settings: Record<string, number | boolean>;
  readonly systems: readonly SystemResult[];
  readonly concurrency: readonly { concurrency: number; baseline: Percentiles; sluice: Percentiles }[];
  readonly scale: readonly { promptBytes: number; baseline: Percentiles; sluice: Percentiles }[];
  readonly sluiceStagesUs: Record<string, { p50: number; p99: number }>;
  /**
   * The same timers over the paced streams only: one call at a time, the process idle ~20 ms between deltas (cold
   * caches).
   */
  readonly sluiceStagesPacedUs?: Record<string, { p50: number; p99: number }>;
  /** scripts/bench/state-bench.ts in the same run: the state database's cost per call (ms). */
  readonly state?: StateBenchResult;
}

/** What state-bench.ts measures, in milliseconds. */
export interface StateBenchResult {
  readonly pglite?: { readonly requestPathMs: { p50: number; p99: number } };
  readonly postgres?: {
    readonly requestPathMs: { p50: number; p99: number };
    readonly crossInstanceReleaseMs: { p50: number; p99: number };
  };
}

const f = (ms: number): string => ms.toFixed(3);

function interChunk(s: SystemResult, baseline: SystemResult): string {
  const gaps = s.streamInterChunk;
  if (gaps.count === 0)
    return s.streamBatchedDeltas === 0 ? 'n/a (streams failed)' : "n/a (each stream's deltas in one read)";
  const batched = s.streamBatchedDeltas === 0 ? '' : `, batched: ${s.streamBatchedDeltas}`;
  return (
    `${f(gaps.p50)} / ${f(gaps.p99)} (${f(gaps.p50 - baseline.streamInterChunk.p50)} / ` +
    `${f(gaps.p99 - baseline.streamInterChunk.p99)})${batched}`
  );
}

export function renderMarkdown(r: BenchResult): string {
  const [baseline, floor] = r.systems;
  const lines = [
    `Bench ${r.date} on ${r.machine.cores}× ${r.machine.cpu}, ${r.machine.memoryGb} GB, Node ${r.machine.node}; ` +
      `4 KB prompt, mock service time ${r.settings.upstreamServiceMs} ms; ` +
      `each system warmed up with ${r.settings.warmSeconds ?? 0} s of load ` +
      `(and its paced twin with short streams) before it is measured.`,
    '',
    '| system | c=1 p50 ms | c=1 p99 ms | c=1 p99.9 ms | added p50 / p99 ms | ' +
      'first delta p50/p99 ms, paced stream (added) | first delta p99 ms, burst (added) | ' +
      'inter-chunk p50/p99 ms (added) | req/s @' +
      r.settings.connections +
      (Number(r.settings.saturationRounds ?? 1) > 1 ? ` (median of ${r.settings.saturationRounds})` : '') +
      ' | vs floor | peak RSS MB | failures |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of r.systems) {
    const addedP50 = s.json.p50 - baseline!.json.p50;
    const addedP99 = s.json.p99 - baseline!.json.p99;
    const ttft =
      s.streamFirstDelta.count === 0
        ? 'n/a (streams failed)'
        : `${f(s.streamFirstDelta.p99)} (${f(s.streamFirstDelta.p99 - baseline!.streamFirstDelta.p99)})`;
    const paced = s.streamFirstDeltaPaced;
    const pacedTtft =
      paced.count === 0
        ? 'n/a (streams failed)'
        : `${f(paced.p50)} / ${f(paced.p99)} (${f(paced.p50 - baseline!.streamFirstDeltaPaced.p50)} / ` +
          `${f(paced.p99 - baseline!.streamFirstDeltaPaced.p99)})`;
    const ratio = s.throughput.requestsPerSecond / floor!.throughput.requestsPerSecond;
    lines.push(
      `| ${s.name} | ${f(s.json.p50)} | ${f(s.json.p99)} | ${f(s.json.p999)} | ${f(addedP50)} / ${f(addedP99)} | ` +
        `${pacedTtft} | ${ttft} | ${interChunk(s, baseline!)} | ` +
        `${s.throughput.requestsPerSecond} | ${(ratio * 100).toFixed(0)}% | ${s.peakRssMb} | ` +
        `${s.failures + s.throughput.non2xx + s.throughput.errors} |`,
    );
  }
  if (r.systems.some((s) => (s.throughputRounds?.length ?? 0) > 1)) {
    const rounds = r.systems.map((s) => `${s.name} ${s.throughputRounds?.join(' / ')}`).join('; ');
    lines.push(
      '',
      `Saturation rounds (req/s; every system in turn, ${r.settings.saturationSeconds} s each): ${rounds}.`,
    );
  }
  lines.push(
    '',
    `Paced stream: ${r.settings.pacedStreams} streams of ${r.settings.pacedMaxTokens} ` +
      `tokens from a mock that sends the ` +
      `opening events with the first content_block_delta, then a delta every ${r.settings.deltaIntervalMs} ms. ` +
      `Inter-chunk: the gap between consecutive reads at the client that carry a delta; ` +
      `deltas that arrive in one read ` +
      `have no gap of their own and are counted as batched instead. Burst: the unpaced mock sends the whole answer ` +
      `(a 4 KB echo in 16-character deltas) at once, so the first delta leaves a gateway only after it ` +
      `has processed the whole read it came in.`,
  );
  lines.push(
    '',
    '| concurrency | baseline p50 / p99 ms | sluice p50 / p99 ms | added p50 / p99 ms |',
    '|---|---|---|---|',
  );
  for (const c of r.concurrency) {
    lines.push(
      `| ${c.concurrency} | ${f(c.baseline.p50)} / ${f(c.baseline.p99)} | ${f(c.sluice.p50)} / ${f(c.sluice.p99)} | ` +
        `${f(c.sluice.p50 - c.baseline.p50)} / ${f(c.sluice.p99 - c.baseline.p99)} |`,
    );
  }
  lines.push('', '| prompt | baseline p50 / p99 ms | sluice p50 / p99 ms | added p50 / p99 ms |', '|---|---|---|---|');
  for (const s of r.scale) {
    lines.push(
      `| ${s.promptBytes / 1024} KB | ${f(s.baseline.p50)} / ${f(s.baseline.p99)} | ` +
        `${f(s.sluice.p50)} / ${f(s.sluice.p99)} | ` +
        `${f(s.sluice.p50 - s.baseline.p50)} / ${f(s.sluice.p99 - s.baseline.p99)} |`,
    );
  }
  lines.push(
    '',
    'Sluice cost per request by stage (its own timers, µs; ' +
      '`forwarded` is the time from arrival to the upstream request, ' +
      'upstream_* and total include the upstream). Under load: every call of the main run. ' +
      'Paced: the paced streams only, one at a time with the process idle between deltas, so ' +
      'every stage runs with cold caches, as at a quiet hour in production:',
    '',
    '| stage | under load p50 µs | under load p99 µs | paced p50 µs | paced p99 µs |',
    '|---|---|---|---|---|',
  );
  for (const [stage, v] of Object.entries(r.sluiceStagesUs)) {
    const paced = r.sluiceStagesPacedUs?.[stage];
    lines.push(`| ${stage} | ${v.p50} | ${v.p99} | ${paced?.p50 ?? 'n/a'} | ${paced?.p99 ?? 'n/a'} |`);
  }
  if (r.state) {
    const row = (what: string, v: { p50: number; p99: number } | undefined): string =>
      `| ${what} | ${v ? `${v.p50} | ${v.p99}` : 'n/a | n/a'} |`;
    lines.push(
      '',
      '## State database (ms per call; scripts/bench/state-bench.ts)',
      '',
      '| what | p50 | p99 |',
      '|---|---|---|',
      row('session entry + approval lookup, PGlite', r.state.pglite?.requestPathMs),
      row('session entry + approval lookup, PostgreSQL (local)', r.state.postgres?.requestPathMs),
      row('verdict on one instance → held call woken on another', r.state.postgres?.crossInstanceReleaseMs),
    );
  }
  return `${lines.join('\n')}\n`;
}
