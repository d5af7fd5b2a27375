/**
 * A few-second smoke run of the benchmark's own parts (scripts/bench: load drivers, RSS sampler,
 * stage costs, report and chart) against the mock, a bare proxy and Sluice, so `npm run bench`
 * keeps working. It asserts that every part measured something and nothing failed, never a speed:
 * the benchmark owns the figures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { startBareProxy } from '../../../scripts/bench/bare-proxy.ts';
import { latencyChartSvg } from '../../../scripts/bench/chart.ts';
import { closedLoop, peakRss, saturate, type Target } from '../../../scripts/bench/measure.ts';
import { renderMarkdown, type SystemResult } from '../../../scripts/bench/report.ts';
import { stageCosts } from '../../../scripts/bench/stages.ts';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';

let h: Harness;
let bare: { url: string; server: Server };
beforeAll(async () => {
  h = await startHarness({ mock: { chunkChars: 16, deltaIntervalMs: 5 } });
  bare = await startBareProxy(h.upstream.url, h.upstreamKey);
});
afterAll(async () => {
  bare?.server.close();
  await h?.close();
});

const body = (stream: boolean, maxTokens = 256): string =>
  JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: maxTokens,
    stream,
    messages: [{ role: 'user', content: 'The quarterly report shows steady growth. '.repeat(20) }],
  });

async function measure(name: string, target: Target): Promise<SystemResult> {
  const json = await closedLoop(target, body(false), 20, 5);
  const sse = await closedLoop(target, body(true, 40), 4, 1);
  const rss = await peakRss(process.pid);
  const throughput = await saturate(target, body(false), 4, 1);
  return {
    name,
    json: json.total,
    streamFirstDelta: sse.firstDelta,
    streamFirstDeltaPaced: sse.firstDelta,
    streamInterChunk: sse.interChunk,
    streamBatchedDeltas: sse.batchedDeltas,
    failures: json.failures + sse.failures,
    throughput,
    throughputRounds: [throughput.requestsPerSecond, throughput.requestsPerSecond],
    peakRssMb: await rss.stop(),
  };
}

describe('benchmark smoke run', () => {
  it('measures baseline, floor and Sluice, and renders the table and the chart', async () => {
    const systems = [
      await measure('baseline', { url: h.upstream.url, headers: { 'x-api-key': h.upstreamKey } }),
      await measure('floor', { url: bare.url, headers: {} }),
      await measure('sluice', { url: h.url, headers: { authorization: `Bearer ${await h.token(['engineering'])}` } }),
    ];
    for (const s of systems) {
      expect(s.failures, s.name).toBe(0);
      expect(s.json.count, s.name).toBe(20);
      expect(s.streamFirstDelta.count, s.name).toBe(4);
      expect(s.streamInterChunk.count, s.name).toBeGreaterThan(0);
      expect(s.throughput.requestsPerSecond, s.name).toBeGreaterThan(0);
      expect(s.throughput.non2xx + s.throughput.errors, s.name).toBe(0);
      expect(s.peakRssMb, s.name).toBeGreaterThan(0);
    }
    await h.auditEvents(); // flushes the audit file
    const stages = await stageCosts(h.auditFile);
    expect(Object.keys(stages)).toEqual(
      expect.arrayContaining(['auth', 'policy', 'forwarded', 'audit (serialize + hash chain)']),
    );
    // Sluice's latency before the upstream includes its stages before the upstream.
    expect(stages.forwarded!.p50).toBeGreaterThanOrEqual(stages.policy!.p50);
    const streamsOnly = await stageCosts(
      h.auditFile,
      (session) => (session.response as { stream?: boolean } | null)?.stream === true,
    );
    expect(streamsOnly.first_byte).toBeDefined();
    expect(streamsOnly.upstream_body).toBeUndefined(); // JSON calls only
    const point = systems[0]!.json;
    const md = renderMarkdown({
      date: new Date().toISOString(),
      machine: { cpu: 'test', cores: 1, memoryGb: 1, node: process.version },
      settings: {
        connections: 4,
        upstreamServiceMs: 0,
        pacedStreams: 4,
        pacedMaxTokens: 40,
        deltaIntervalMs: 5,
        saturationRounds: 2,
        saturationSeconds: 1,
      },
      systems,
      concurrency: [{ concurrency: 1, baseline: point, sluice: systems[2]!.json }],
      scale: [{ promptBytes: 1024, baseline: point, sluice: systems[2]!.json }],
      sluiceStagesUs: stages,
      sluiceStagesPacedUs: streamsOnly,
    });
    expect(md).toMatch(/\| floor \|.*\| 100% \|/);
    expect(md).toMatch(/\| sluice \|/);
    expect(md).toMatch(/\| forwarded \| \d+ \| \d+ \| \d+ \| \d+ \|/);
    expect(md).toMatch(/\| upstream_body \| \d+ \| \d+ \| n\/a \| n\/a \|/);
    expect(md).toMatch(/req\/s @4 \(median of 2\)/);
    expect(md).toMatch(/Saturation rounds \(req\/s; every system in turn, 1 s each\): baseline \d+ \/ \d+; floor/);
    expect(latencyChartSvg(systems, 'smoke')).toMatch(/^<svg[\s\S]*sluice[\s\S]*<\/svg>\s*$/);
  });
});
