/**
 * Cost per request split by stage, from Sluice's own timers (timings_ms in its exchange records)
 * plus the audit stage itself, which cannot time its own record: it is measured by re-recording
 * the run's events through an AuditLog with a sink that discards them.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../../gateway/audit/audit-log.ts';
import type { AuditDraft } from '../../gateway/audit/event-content.ts';

export type StageCosts = Record<string, { p50: number; p99: number }>;

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Events kept for the audit-stage replay (the file itself can exceed the longest JS string). */
const REPLAY_EVENTS = 4000;

/**
 * Stage costs over the exchange records `select` keeps (default: all), and the audit stage over the run's first events.
 */
export async function stageCosts(
  auditFile: string,
  select: (session: Record<string, unknown>) => boolean = () => true,
): Promise<StageCosts> {
  const samples: Record<string, number[]> = {};
  const events: Record<string, unknown>[] = [];
  for await (const line of createInterface({ input: createReadStream(auditFile), crlfDelay: Infinity })) {
    if (!line) continue;
    const event = JSON.parse(line) as Record<string, unknown>;
    if (events.length < REPLAY_EVENTS) events.push(event);
    if (event.kind !== 'exchange' || !select(event)) continue;
    for (const [stage, ms] of Object.entries(event.timings_ms as Record<string, number>))
      (samples[stage] ??= []).push(ms * 1000);
  }
  const auditUs: number[] = [];
  const log = new AuditLog([
    { name: 'discard', write: () => undefined, flush: async () => undefined, close: async () => undefined },
  ]);
  for (const event of events) {
    const { schema_version: _v, event_id: _id, seq: _s, prev_hash: _h, instance_id: _i, ...body } = event;
    const start = performance.now();
    log.record(body as unknown as AuditDraft);
    log.head(); // the writer's work, done now so it is timed
    auditUs.push((performance.now() - start) * 1000);
  }
  // Two events (decision + exchange record) per request.
  const perRequest: number[] = [];
  for (let i = 0; i + 1 < auditUs.length; i += 2) perRequest.push(auditUs[i]! + auditUs[i + 1]!);
  samples['audit (serialize + hash chain)'] = perRequest;
  const out: StageCosts = {};
  for (const [stage, values] of Object.entries(samples)) {
    values.sort((a, b) => a - b);
    out[stage] = { p50: Math.round(percentile(values, 50)), p99: Math.round(percentile(values, 99)) };
  }
  return out;
}
