import { SluiceError } from '../errors.ts';
import type { Budget } from '../policy/decision.ts';
import { windowOf, type BudgetWindow } from './budget-window.ts';
import type { PriceTable, TokenUsage } from './prices.ts';
import type { BudgetCharge, BudgetRefusal, UsageStore } from './usage-store.ts';

/** What a call reserved against its budgets, to settle once its answer is known. */
export interface Reservation {
  readonly charges: readonly BudgetCharge[];
  readonly model: string | undefined;
  /** The reserved estimate, settled in full when the answer reports no usage (the safe side). */
  readonly estimate: TokenUsage;
}

/** What the budget stage reads of the request. */
export interface CallEstimate {
  readonly model: string | undefined;
  readonly estimatedInputTokens: number;
  readonly maxTokens: number | undefined;
}

const NO_RESERVATION: Reservation = {
  charges: [],
  model: undefined,
  estimate: { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
};

/**
 * The budget stage, before anything goes upstream: reserves the call's estimated tokens (input
 * estimate + max_tokens) and cost against every budget the policy set, all or none; a budget it
 * does not fit refuses the call with 429 naming that budget.
 */
export async function reserveBudgets(
  store: UsageStore,
  prices: PriceTable,
  budgets: readonly Budget[],
  call: CallEstimate,
  now: Date = new Date(),
): Promise<Reservation> {
  if (budgets.length === 0) return NO_RESERVATION;
  const estimate = { input: call.estimatedInputTokens, output: call.maxTokens ?? 0, cacheWrite: 0, cacheRead: 0 };
  const tokens = estimate.input + estimate.output;
  const costMicroUsd = prices.costMicroUsd(call.model, estimate);
  const windows = new Map<BudgetCharge, BudgetWindow>();
  const charges = budgets.map((b) => {
    const window = windowOf(b.window, now);
    const charge: BudgetCharge = {
      key: b.key,
      windowSeconds: window.seconds,
      windowStart: window.start,
      tokens,
      costMicroUsd,
      limits: {
        tokens: b.tokens,
        requests: b.requests,
        costMicroUsd: b.costUsd === undefined ? undefined : Math.round(b.costUsd * 1_000_000),
      },
    };
    windows.set(charge, window);
    return charge;
  });
  const refused = await store.reserve(charges);
  if (refused) throw budgetExceeded(refused, windows.get(refused.charge)!, now);
  return { charges, model: call.model, estimate };
}

/**
 * Settles a reservation to what the call used: the answer's `usage` (JSON, or accumulated from a
 * stream), or, when the answer reported none (upstream error before any, a stream cut before
 * its first event), the whole estimate.
 */
export async function settleBudgets(
  store: UsageStore,
  prices: PriceTable,
  reservation: Reservation,
  reported: TokenUsage | undefined,
): Promise<void> {
  if (reservation.charges.length === 0) return;
  const used = reported ?? reservation.estimate;
  await store.settle(reservation.charges, {
    tokens: used.input + used.output + used.cacheWrite + used.cacheRead,
    costMicroUsd: prices.costMicroUsd(reservation.model, used),
  });
}

/** The token counts of an Anthropic `usage` object; undefined when it carries none. */
export function tokenUsage(usage: unknown): TokenUsage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
  if (typeof u.input_tokens !== 'number' && typeof u.output_tokens !== 'number') return undefined;
  return {
    input: n(u.input_tokens),
    output: n(u.output_tokens),
    cacheWrite: n(u.cache_creation_input_tokens),
    cacheRead: n(u.cache_read_input_tokens),
  };
}

function budgetExceeded(refused: BudgetRefusal, window: BudgetWindow, now: Date): SluiceError {
  const { charge, usage } = refused;
  const retryAfter = Math.max(1, Math.ceil((window.resetAt.getTime() - now.getTime()) / 1000));
  const reset = window.resetAt.toISOString();
  const headers: Record<string, string> = {
    'retry-after': String(retryAfter),
    'x-sluice-budget-key': charge.key,
    'x-sluice-budget-reset': reset,
  };
  let what = '';
  if (charge.limits.tokens !== undefined) {
    const remaining = Math.max(0, charge.limits.tokens - usage.tokens - usage.reservedTokens);
    headers['anthropic-ratelimit-tokens-limit'] = String(charge.limits.tokens);
    headers['anthropic-ratelimit-tokens-remaining'] = String(remaining);
    headers['anthropic-ratelimit-tokens-reset'] = reset;
    if (charge.tokens > remaining)
      what = `${charge.tokens} tokens estimated, ${remaining} of ${charge.limits.tokens} left`;
  }
  if (charge.limits.requests !== undefined) {
    const remaining = Math.max(0, charge.limits.requests - usage.requests);
    headers['anthropic-ratelimit-requests-limit'] = String(charge.limits.requests);
    headers['anthropic-ratelimit-requests-remaining'] = String(remaining);
    headers['anthropic-ratelimit-requests-reset'] = reset;
    if (remaining === 0 && !what) what = `all ${charge.limits.requests} requests used`;
  }
  if (charge.limits.costMicroUsd !== undefined && !what) {
    const left = Math.max(0, charge.limits.costMicroUsd - usage.costMicroUsd - usage.reservedCostMicroUsd);
    what = `$${(charge.costMicroUsd / 1e6).toFixed(4)} estimated, $${(left / 1e6).toFixed(4)} left`;
  }
  return new SluiceError(
    'SLUICE_ERR_BUDGET_EXCEEDED',
    `budget "${charge.key}" is spent for this window (${what}); it resets at ${reset}`,
    { headers },
  );
}
