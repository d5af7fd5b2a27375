/**
 * Request metrics for /metrics in the Prometheus text format: calls by operation, outcome and
 * connection; time per stage as a histogram; masks by entity type and direction; calls that
 * waited for an approval, by how the approval ended. Every label comes from a bounded set (the
 * route table, the configured connections, the stage names in the code, the bundle's entity
 * types), never from a caller's input. Hand-written: prom-client would add a registry and a
 * dependency for a handful of counters the gateway already has in hand.
 */
import type { ExchangeSummary } from '../pipeline/exchange-record.ts';

/** Upper bounds (seconds) of the stage-duration histogram's buckets. */
const BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Timings that are stages (others in timings are marks: `forwarded`, `total` is kept as a stage). */
const STAGES = new Set([
  'auth',
  'session',
  'inspect',
  'detect',
  'policy',
  'approval_hold',
  'policy_after_approval',
  'mask',
  'audit_ahead',
  'upstream_headers',
  'total',
]);

interface Histogram {
  readonly counts: number[];
  sum: number;
  count: number;
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export class RequestMetrics {
  private readonly requests = new Map<string, number>();
  private readonly stages = new Map<string, Histogram>();
  private readonly masks = new Map<string, number>();
  private readonly approvals = new Map<string, number>();
  private readonly tokens = new Map<string, number>();
  private readonly rateLimited = new Map<string, number>();

  /** Counts a request refused by a pre-auth rate limit (`address` or `token`). */
  refused(limit: 'address' | 'token'): void {
    const k = `limit="${limit}"`;
    this.rateLimited.set(k, (this.rateLimited.get(k) ?? 0) + 1);
  }

  /** Counts one finished call (called once per exchange, when its record is written). */
  observe(call: ExchangeSummary): void {
    const key =
      `operation="${label(call.operation)}",outcome="${call.outcome}",` +
      `connection="${label(call.connection ?? '')}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    for (const [stage, ms] of Object.entries(call.timingsMs)) {
      if (!STAGES.has(stage)) continue;
      let h = this.stages.get(stage);
      if (!h) this.stages.set(stage, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
      const seconds = ms / 1000;
      BUCKETS.forEach((bound, i) => seconds <= bound && h.counts[i]!++);
      h.sum += seconds;
      h.count++;
    }
    for (const m of call.masks) {
      const direction = m.path.startsWith('response.') ? 'response' : 'request';
      const k = `type="${label(m.type)}",direction="${direction}"`;
      this.masks.set(k, (this.masks.get(k) ?? 0) + m.count);
    }
    if (call.billed) {
      // model is the price family (a bounded set), never the model string the caller sent.
      const { family, usage } = call.billed;
      const where = `model="${label(family)}",connection="${label(call.connection ?? '')}"`;
      for (const [kind, n] of [
        ['input', usage.input],
        ['output', usage.output],
        ['cache_write', usage.cacheWrite],
        ['cache_read', usage.cacheRead],
      ] as const) {
        const k = `kind="${kind}",${where}`;
        this.tokens.set(k, (this.tokens.get(k) ?? 0) + n);
      }
    }
    if (call.approvalState) {
      const k = `state="${label(call.approvalState)}"`;
      this.approvals.set(k, (this.approvals.get(k) ?? 0) + 1);
    }
  }

  /** The metrics in the Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, values: Map<string, number>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [k, v] of values) lines.push(`${name}{${k}} ${v}`);
    };
    counter('sluice_requests_total', 'Proxied calls by operation, final outcome and connection.', this.requests);
    lines.push(
      '# HELP sluice_stage_duration_seconds Time spent in each stage of a call.',
      '# TYPE sluice_stage_duration_seconds histogram',
    );
    for (const [stage, h] of this.stages) {
      BUCKETS.forEach((bound, i) =>
        lines.push(`sluice_stage_duration_seconds_bucket{stage="${stage}",le="${bound}"} ${h.counts[i]}`),
      );
      lines.push(`sluice_stage_duration_seconds_bucket{stage="${stage}",le="+Inf"} ${h.count}`);
      lines.push(
        `sluice_stage_duration_seconds_sum{stage="${stage}"} ${h.sum}`,
        `sluice_stage_duration_seconds_count{stage="${stage}"} ${h.count}`,
      );
    }
    counter('sluice_masks_total', 'Entities masked, by type and direction.', this.masks);
    counter(
      'sluice_tokens_total',
      'Tokens the answers reported, by kind, model price family and connection.',
      this.tokens,
    );
    counter(
      'sluice_rate_limited_total',
      'Requests refused before authentication by the per-address or per-token rate limit.',
      this.rateLimited,
    );
    counter(
      'sluice_approval_calls_total',
      'Calls that presented or waited for an approval, by its final state.',
      this.approvals,
    );
    return `${lines.join('\n')}\n`;
  }
}
