import type { BudgetRefusalRecord } from '../audit/events.ts';
import { SluiceError } from '../errors.ts';
import { estimateTokens } from '../inspect/token-estimate.ts';
import type { Budget } from '../policy/decision.ts';
import { windowOf, type BudgetWindow } from './budget-window.ts';
import type { PriceTable, TokenUsage } from './prices.ts';
import type { BudgetCharge, BudgetRefusal, UsageEntry, UsageStore } from './usage-store.ts';

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

/** A budget's share of a call in its current window: `tokens` and `costMicroUsd` against its limits. */
function chargeOf(b: Budget, window: BudgetWindow, tokens: number, costMicroUsd: number): BudgetCharge {
  return {
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
}

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
    const charge = chargeOf(b, window, tokens, costMicroUsd);
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

/**
 * What a stream used, from the message it amounted to. A stream that ended before its final count
 * (message_delta, which sets `stop_reason`: the caller left, the upstream broke off) reported only
 * message_start's (its input, and 1 output token): the output already sent is counted from its
 * content instead, at the input estimate's rate, up to the output the call reserved (so a cut
 * stream never settles more than it reserved). Without even message_start, undefined: the estimate.
 */
export function streamUsage(message: unknown, reservation: Reservation): TokenUsage | undefined {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  const reported = tokenUsage(m.usage);
  if (!reported || (m.stop_reason !== null && m.stop_reason !== undefined)) return reported;
  const sent = Math.min(reservation.estimate.output, estimateTokens(JSON.stringify(m.content ?? [])));
  return { ...reported, output: Math.max(reported.output, sent) };
}

/** One request of a Message Batch about to be created: its decision's budgets and its estimate. */
export interface BatchEstimate {
  readonly budgets: readonly Budget[];
  readonly call: CallEstimate;
}

/**
 * A Message Batch about to be created: refused (429, naming the budget) when its requests'
 * estimates, summed per budget, do not fit what is left of that budget now. Nothing is reserved:
 * the batch is processed upstream later and its use is added when its results are read
 * (addBatchUsage), so this is a check against the budget as it stands, not a hold on it.
 */
export async function checkBatchBudgets(
  store: UsageStore,
  prices: PriceTable,
  requests: readonly BatchEstimate[],
  now: Date = new Date(),
): Promise<void> {
  const sums = new Map<string, { budget: Budget; window: BudgetWindow; tokens: number; costMicroUsd: number }>();
  for (const { budgets, call } of requests) {
    const estimate = { input: call.estimatedInputTokens, output: call.maxTokens ?? 0, cacheWrite: 0, cacheRead: 0 };
    const costMicroUsd = prices.costMicroUsd(call.model, estimate);
    for (const budget of budgets) {
      const window = windowOf(budget.window, now);
      const id = `${budget.key}\u0000${window.seconds}`;
      const sum = sums.get(id) ?? { budget, window, tokens: 0, costMicroUsd: 0 };
      sum.tokens += estimate.input + estimate.output;
      sum.costMicroUsd += costMicroUsd;
      sums.set(id, sum);
    }
  }
  const windows = new Map<BudgetCharge, BudgetWindow>();
  const charges = [...sums.values()].map((s) => {
    const charge = chargeOf(s.budget, s.window, s.tokens, s.costMicroUsd);
    windows.set(charge, s.window);
    return charge;
  });
  const refused = await store.check(charges);
  if (refused) throw budgetExceeded(refused, windows.get(refused.charge)!, now);
}

/** One Message Batch request's use, known from its result: its decision's budgets, its model and its usage. */
export interface BatchUse {
  readonly budgets: readonly Budget[];
  readonly model: string | undefined;
  readonly usage: TokenUsage;
}

/**
 * Adds what Message Batch requests used to their decisions' budgets, in the windows current at
 * `now` (when the results are read: when the batch processed them is not known), summed per
 * budget window so a large batch is a few counter updates, not one per request.
 */
export async function addBatchUsage(
  store: UsageStore,
  prices: PriceTable,
  uses: readonly BatchUse[],
  now: Date = new Date(),
): Promise<void> {
  const sums = new Map<string, { charge: BudgetCharge; requests: number; tokens: number; costMicroUsd: number }>();
  for (const use of uses) {
    const u = use.usage;
    const tokens = u.input + u.output + u.cacheWrite + u.cacheRead;
    const costMicroUsd = prices.costMicroUsd(use.model, u);
    for (const b of use.budgets) {
      const window = windowOf(b.window, now);
      const id = `${b.key}\u0000${window.seconds}`;
      const sum = sums.get(id) ?? {
        charge: chargeOf(b, window, 0, 0),
        requests: 0,
        tokens: 0,
        costMicroUsd: 0,
      };
      sum.requests += 1;
      sum.tokens += tokens;
      sum.costMicroUsd += costMicroUsd;
      sums.set(id, sum);
    }
  }
  const entries: UsageEntry[] = [...sums.values()];
  await store.add(entries);
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

/** A call refused for budget, with the audit's account of that one budget. */
export class BudgetExceeded extends SluiceError {
  constructor(
    readonly budget: BudgetRefusalRecord,
    detail: string,
    headers: Readonly<Record<string, string>>,
  ) {
    super('SLUICE_ERR_BUDGET_EXCEEDED', detail, { headers });
  }
}

/** The refusing budget's limits, what is left of each (settled and reserved use taken off) and the call's ask. */
function refusalRecord(refused: BudgetRefusal, window: BudgetWindow): BudgetRefusalRecord {
  const { charge, usage } = refused;
  const { limits } = charge;
  const limit: BudgetRefusalRecord['limit'] = {};
  const remaining: BudgetRefusalRecord['remaining'] = {};
  if (limits.tokens !== undefined) {
    limit.tokens = limits.tokens;
    remaining.tokens = Math.max(0, limits.tokens - usage.tokens - usage.reservedTokens);
  }
  if (limits.requests !== undefined) {
    limit.requests = limits.requests;
    remaining.requests = Math.max(0, limits.requests - usage.requests);
  }
  if (limits.costMicroUsd !== undefined) {
    limit.cost_usd = limits.costMicroUsd / 1e6;
    remaining.cost_usd = Math.max(0, limits.costMicroUsd - usage.costMicroUsd - usage.reservedCostMicroUsd) / 1e6;
  }
  return {
    key: charge.key,
    window_seconds: window.seconds,
    window_start: window.start.toISOString(),
    limit,
    remaining,
    requested: { tokens: charge.tokens, cost_usd: charge.costMicroUsd / 1e6 },
  };
}

function budgetExceeded(refused: BudgetRefusal, window: BudgetWindow, now: Date): BudgetExceeded {
  const { charge } = refused;
  const budget = refusalRecord(refused, window);
  const retryAfter = Math.max(1, Math.ceil((window.resetAt.getTime() - now.getTime()) / 1000));
  const reset = window.resetAt.toISOString();
  const headers: Record<string, string> = {
    'retry-after': String(retryAfter),
    'x-sluice-budget-key': charge.key,
    'x-sluice-budget-reset': reset,
  };
  let what = '';
  if (budget.remaining.tokens !== undefined) {
    const remaining = budget.remaining.tokens;
    headers['anthropic-ratelimit-tokens-limit'] = String(budget.limit.tokens);
    headers['anthropic-ratelimit-tokens-remaining'] = String(remaining);
    headers['anthropic-ratelimit-tokens-reset'] = reset;
    if (charge.tokens > remaining)
      what = `${charge.tokens} tokens estimated, ${remaining} of ${budget.limit.tokens} left`;
  }
  if (budget.remaining.requests !== undefined) {
    const remaining = budget.remaining.requests;
    headers['anthropic-ratelimit-requests-limit'] = String(budget.limit.requests);
    headers['anthropic-ratelimit-requests-remaining'] = String(remaining);
    headers['anthropic-ratelimit-requests-reset'] = reset;
    if (remaining === 0 && !what) what = `all ${budget.limit.requests} requests used`;
  }
  if (budget.remaining.cost_usd !== undefined && !what) {
    what = `$${(charge.costMicroUsd / 1e6).toFixed(4)} estimated, $${budget.remaining.cost_usd.toFixed(4)} left`;
  }
  return new BudgetExceeded(
    budget,
    `budget "${charge.key}" is spent for this window (${what}); it resets at ${reset}`,
    headers,
  );
}
