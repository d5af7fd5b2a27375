import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import type { BudgetStanding, UsageStore } from '../usage/usage-store.ts';
import { caller } from './api-caller.ts';
import type { Identity } from '../identity/identity.ts';
import { isSessionAdmin } from './authorize.ts';

/** How far back a usage listing looks by default, in days (a monthly budget's window fits). */
const DEFAULT_DAYS = 31;

/** One window of one budget as /sluice/api/usage (and the console's usage page) shows it. */
export interface UsageRow {
  readonly key: string;
  readonly window_seconds: number;
  readonly window_start: string;
  readonly requests: number;
  readonly tokens: number;
  readonly reserved_tokens: number;
  readonly cost_usd: number;
  readonly reserved_cost_usd: number;
  /** The limits the window was last reserved under; null for a kind the budget does not limit (or not known). */
  readonly limit_tokens: number | null;
  readonly limit_requests: number | null;
  readonly limit_cost_usd: number | null;
}

/**
 * The counters `who` asked for: their own (`subject:<their sub>`) by default; administrators any
 * key they name. Another subject's key is refused, not emptied, so a listing never hints at whose
 * counters exist.
 */
export async function readUsage(
  usage: UsageStore,
  who: Pick<Identity, 'sub' | 'groups'>,
  adminGroups: readonly string[],
  query: { key?: string | string[]; days?: string },
): Promise<UsageRow[]> {
  const own = `subject:${who.sub}`;
  const keys = query.key === undefined || query.key === '' ? [own] : [query.key].flat();
  if (!isSessionAdmin(who, adminGroups) && keys.some((k) => k !== own))
    throw new SluiceError('SLUICE_ERR_FORBIDDEN', `only administrators may read other budgets than ${own}`);
  const days = query.days === undefined ? DEFAULT_DAYS : Number(query.days);
  if (!Number.isInteger(days) || days < 1 || days > 400)
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'days: a whole number of days from 1 to 400');
  const since = new Date(Date.now() - days * 86_400_000);
  return (await usage.usageOf(keys, since)).map(usageRow);
}

function usageRow(r: BudgetStanding): UsageRow {
  return {
    key: r.key,
    window_seconds: r.windowSeconds,
    window_start: r.windowStart,
    requests: r.requests,
    tokens: r.tokens,
    reserved_tokens: r.reservedTokens,
    cost_usd: r.costMicroUsd / 1e6,
    reserved_cost_usd: r.reservedCostMicroUsd / 1e6,
    limit_tokens: r.limits.tokens ?? null,
    limit_requests: r.limits.requests ?? null,
    limit_cost_usd: r.limits.costMicroUsd === undefined ? null : r.limits.costMicroUsd / 1e6,
  };
}

/** /sluice/api/usage: the budget counters (readUsage says whose). */
export async function usageRoutes(
  app: FastifyInstance,
  deps: { usage: UsageStore; adminGroups: readonly string[] },
): Promise<void> {
  app.get('/', async (req) => {
    const query = req.query as { key?: string | string[]; days?: string };
    return { data: await readUsage(deps.usage, caller(req), deps.adminGroups, query) };
  });
}
