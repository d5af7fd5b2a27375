import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import type { UsageStore } from '../usage/usage-store.ts';
import { caller } from './api-caller.ts';
import { isSessionAdmin } from './authorize.ts';

/** How far back a usage listing looks by default, in days (a monthly budget's window fits). */
const DEFAULT_DAYS = 31;

/**
 * /sluice/api/usage: the budget counters. Anyone sees their own (`subject:<their sub>`);
 * administrators any key they name (`?key=group:engineering&key=repo:acme/app`). Another
 * subject's key is refused, not emptied, so a listing never hints at whose counters exist.
 */
export async function usageRoutes(
  app: FastifyInstance,
  deps: { usage: UsageStore; adminGroups: readonly string[] },
): Promise<void> {
  app.get('/', async (req) => {
    const who = caller(req);
    const query = req.query as { key?: string | string[]; days?: string };
    const own = `subject:${who.sub}`;
    const keys = query.key === undefined ? [own] : [query.key].flat();
    if (!isSessionAdmin(who, deps.adminGroups) && keys.some((k) => k !== own))
      throw new SluiceError('SLUICE_ERR_FORBIDDEN', `only administrators may read other budgets than ${own}`);
    const days = query.days === undefined ? DEFAULT_DAYS : Number(query.days);
    if (!Number.isInteger(days) || days < 1 || days > 400)
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'days: a whole number of days from 1 to 400');
    const since = new Date(Date.now() - days * 86_400_000);
    const rows = await deps.usage.usageOf(keys, since);
    return {
      data: rows.map((r) => ({
        key: r.key,
        window_seconds: r.windowSeconds,
        window_start: r.windowStart,
        requests: r.requests,
        tokens: r.tokens,
        reserved_tokens: r.reservedTokens,
        cost_usd: r.costMicroUsd / 1e6,
        reserved_cost_usd: r.reservedCostMicroUsd / 1e6,
      })),
    };
  });
}
