import { performance } from 'node:perf_hooks';

/** One line of a call's trace: a stage that ran (with its duration) or an instant worth marking. */
export interface TraceEntry {
  readonly stage: string;
  /** Milliseconds since the call arrived. */
  readonly startMs: number;
  /** How long the stage ran; 0 for a mark. */
  readonly durationMs: number;
  readonly outcome: 'ok' | 'error' | 'mark';
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * The append-only record of what one call went through and when. Stages are timed through it;
 * nothing in it is ever rewritten, so the audit's `timings_ms` and the metrics read a history,
 * not a state.
 */
export class Trace {
  private readonly t0 = performance.now();
  private readonly log: TraceEntry[] = [];

  get entries(): readonly TraceEntry[] {
    return this.log;
  }

  /** Runs `run` as stage `stage` and appends how long it took and whether it threw. */
  async stage<T>(stage: string, run: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    let outcome: TraceEntry['outcome'] = 'error';
    try {
      const value = await run();
      outcome = 'ok';
      return value;
    } finally {
      this.log.push({ stage, startMs: round(start - this.t0), durationMs: round(performance.now() - start), outcome });
    }
  }

  /** Appends an instant (`forwarded`, `first_byte`, `total`): the time since the call arrived. */
  mark(stage: string): void {
    this.log.push({ stage, startMs: round(performance.now() - this.t0), durationMs: 0, outcome: 'mark' });
  }

  /** The audit's `timings_ms`: each stage's duration, each mark's time since arrival (first of each name). */
  timingsMs(): Record<string, number> {
    const timings: Record<string, number> = {};
    for (const e of this.log) timings[e.stage] ??= e.outcome === 'mark' ? e.startMs : e.durationMs;
    return timings;
  }
}
