import type { Budget } from '../policy/decision.ts';

/** A budget's current fixed window: its id in the counters table, when it began and when it resets. */
export interface BudgetWindow {
  /** Window length in seconds; `month` is stored as MONTH_ID (its length varies). */
  readonly seconds: number;
  readonly start: Date;
  readonly resetAt: Date;
}

const NAMED: Readonly<Record<string, number>> = { minute: 60, hour: 3600, day: 86_400 };
/** The counters' window id for calendar months (UTC), which have no fixed length. */
export const MONTH_ID = 2_592_000;

/**
 * The window `now` falls in. Named windows are aligned to UTC (a day starts at midnight UTC, a
 * month on its first); a window of N seconds to multiples of N since the epoch, so every
 * instance computes the same window without talking to the others.
 */
export function windowOf(window: Budget['window'], now: Date): BudgetWindow {
  if (window === 'month') {
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const resetAt = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    return { seconds: MONTH_ID, start, resetAt };
  }
  const seconds = typeof window === 'number' ? window : NAMED[window]!;
  const startMs = Math.floor(now.getTime() / (seconds * 1000)) * seconds * 1000;
  return { seconds, start: new Date(startMs), resetAt: new Date(startMs + seconds * 1000) };
}
