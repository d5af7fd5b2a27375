import type { BudgetStanding, UsageStore } from '../usage/usage-store.ts';

/** Escapes a Prometheus label value (budget keys are built by the policy from claims: anything). */
const label = (value: string): string => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** What is left of each limit a budget sets, by unit; settled and reserved use both taken off. */
function remainingOf(s: BudgetStanding): Array<[unit: string, left: number, limit: number]> {
  const out: Array<[string, number, number]> = [];
  const { tokens, requests, costMicroUsd } = s.limits;
  if (tokens !== undefined) out.push(['tokens', Math.max(0, tokens - s.tokens - s.reservedTokens), tokens]);
  if (requests !== undefined) out.push(['requests', Math.max(0, requests - s.requests), requests]);
  if (costMicroUsd !== undefined) {
    const left = Math.max(0, costMicroUsd - s.costMicroUsd - s.reservedCostMicroUsd);
    out.push(['cost_usd', left / 1e6, costMicroUsd / 1e6]);
  }
  return out;
}

/**
 * `sluice_budget_remaining{key,window,unit}` and `sluice_budget_limit{…}` for the `count` budgets
 * nearest their limit in their current window: a bounded set of series however many keys there
 * are (a key that leaves the set simply stops being reported).
 */
export async function budgetMetricsText(usage: UsageStore, count: number, now = new Date()): Promise<string> {
  if (count <= 0) return '';
  const standings = await usage.nearestLimits(count, now);
  const remaining: string[] = [];
  const limits: string[] = [];
  for (const s of standings) {
    for (const [unit, left, limit] of remainingOf(s)) {
      const labels = `key="${label(s.key)}",window="${s.windowSeconds}",unit="${unit}"`;
      remaining.push(`sluice_budget_remaining{${labels}} ${left}`);
      limits.push(`sluice_budget_limit{${labels}} ${limit}`);
    }
  }
  return (
    [
      '# HELP sluice_budget_remaining What is left of a budget in its window (the budgets nearest their limit).',
      '# TYPE sluice_budget_remaining gauge',
      ...remaining,
      '# HELP sluice_budget_limit The limit of a budget reported in sluice_budget_remaining.',
      '# TYPE sluice_budget_limit gauge',
      ...limits,
    ].join('\n') + '\n'
  );
}
