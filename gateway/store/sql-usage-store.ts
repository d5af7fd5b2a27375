import { MONTH_ID } from '../usage/budget-window.ts';
import type { BudgetCharge, BudgetStanding, BudgetUsage, UsageEntry, UsageStore } from '../usage/usage-store.ts';
import { iso, type StateDb } from './state-db.ts';

interface Row {
  readonly budget_key: string;
  readonly window_seconds: number;
  readonly window_start: Date;
  readonly requests: number;
  readonly tokens: number;
  readonly reserved_tokens: number;
  readonly cost_micro_usd: number;
  readonly reserved_cost_micro_usd: number;
  readonly limit_tokens?: number | null;
  readonly limit_requests?: number | null;
  readonly limit_cost_micro_usd?: number | null;
}

const limitOf = (v: number | null | undefined): number | undefined =>
  v === null || v === undefined ? undefined : Number(v);

/** Whether `c` fits its budget on top of `n` (settled and reserved use, one more request): reserve's condition. */
export function fits(n: BudgetUsage, c: BudgetCharge): boolean {
  return (
    (c.limits.tokens === undefined || n.tokens + n.reservedTokens + c.tokens <= c.limits.tokens) &&
    (c.limits.requests === undefined || n.requests + 1 <= c.limits.requests) &&
    (c.limits.costMicroUsd === undefined ||
      n.costMicroUsd + n.reservedCostMicroUsd + c.costMicroUsd <= c.limits.costMicroUsd)
  );
}

/** Refused inside the reservation's transaction, so every upsert before it rolls back. */
class OverBudget extends Error {
  constructor(readonly index: number) {
    super('over budget');
  }
}

const usageOf = (r: Row): BudgetUsage => ({
  key: r.budget_key,
  requests: Number(r.requests),
  tokens: Number(r.tokens),
  reservedTokens: Number(r.reserved_tokens),
  costMicroUsd: Number(r.cost_micro_usd),
  reservedCostMicroUsd: Number(r.reserved_cost_micro_usd),
});

const standingOf = (r: Row): BudgetStanding => ({
  ...usageOf(r),
  windowSeconds: r.window_seconds,
  windowStart: iso(r.window_start)!,
  limits: {
    tokens: limitOf(r.limit_tokens),
    requests: limitOf(r.limit_requests),
    costMicroUsd: limitOf(r.limit_cost_micro_usd),
  },
});

/**
 * Usage counters in the state database. Each charge is one upsert whose update only happens
 * when the charge still fits (`… DO UPDATE … WHERE used + reserved + charge <= limit`): the row
 * lock makes the check and the increment one step, on any number of instances.
 */
export class SqlUsageStore implements UsageStore {
  constructor(private readonly db: StateDb) {}

  async check(charges: readonly BudgetCharge[]) {
    for (const c of charges) {
      const n = await this.current(c);
      if (!fits(n, c)) return { charge: c, usage: n };
    }
    return undefined;
  }

  async reserve(charges: readonly BudgetCharge[]) {
    // A charge larger than its limit on its own never fits, even in a fresh window (an insert has no WHERE).
    const alone = charges.findIndex(
      (c) =>
        (c.limits.tokens !== undefined && c.tokens > c.limits.tokens) ||
        (c.limits.costMicroUsd !== undefined && c.costMicroUsd > c.limits.costMicroUsd),
    );
    if (alone >= 0) return { charge: charges[alone]!, usage: await this.current(charges[alone]!) };
    try {
      await this.db.transaction(async (tx) => {
        for (const [index, c] of charges.entries()) {
          const rows = await tx.query(
            `INSERT INTO usage_counters AS u
               (budget_key, window_seconds, window_start, requests, reserved_tokens, reserved_cost_micro_usd,
                limit_tokens, limit_requests, limit_cost_micro_usd)
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8)
             ON CONFLICT (budget_key, window_seconds, window_start) DO UPDATE
             SET requests = u.requests + 1,
                 limit_tokens = EXCLUDED.limit_tokens,
                 limit_requests = EXCLUDED.limit_requests,
                 limit_cost_micro_usd = EXCLUDED.limit_cost_micro_usd,
                 reserved_tokens = u.reserved_tokens + EXCLUDED.reserved_tokens,
                 reserved_cost_micro_usd = u.reserved_cost_micro_usd + EXCLUDED.reserved_cost_micro_usd,
                 updated_at = now()
             WHERE ($6::bigint IS NULL OR u.tokens + u.reserved_tokens + EXCLUDED.reserved_tokens <= $6)
               AND ($7::bigint IS NULL OR u.requests + 1 <= $7)
               AND ($8::bigint IS NULL
                    OR u.cost_micro_usd + u.reserved_cost_micro_usd + EXCLUDED.reserved_cost_micro_usd <= $8)
             RETURNING budget_key`,
            [
              c.key,
              c.windowSeconds,
              c.windowStart.toISOString(),
              c.tokens,
              c.costMicroUsd,
              c.limits.tokens ?? null,
              c.limits.requests ?? null,
              c.limits.costMicroUsd ?? null,
            ],
          );
          if (rows.length === 0) throw new OverBudget(index);
        }
      });
      return undefined;
    } catch (err) {
      if (!(err instanceof OverBudget)) throw err;
      const charge = charges[err.index]!;
      return { charge, usage: await this.current(charge) };
    }
  }

  async add(entries: readonly UsageEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db.query(
      `INSERT INTO usage_counters AS u (budget_key, window_seconds, window_start, requests, tokens, cost_micro_usd,
         limit_tokens, limit_requests, limit_cost_micro_usd)
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[],
         $7::bigint[], $8::bigint[], $9::bigint[])
       ON CONFLICT (budget_key, window_seconds, window_start) DO UPDATE
       SET requests = u.requests + EXCLUDED.requests,
           tokens = u.tokens + EXCLUDED.tokens,
           cost_micro_usd = u.cost_micro_usd + EXCLUDED.cost_micro_usd,
           limit_tokens = EXCLUDED.limit_tokens,
           limit_requests = EXCLUDED.limit_requests,
           limit_cost_micro_usd = EXCLUDED.limit_cost_micro_usd,
           updated_at = now()`,
      [
        entries.map((e) => e.charge.key),
        entries.map((e) => e.charge.windowSeconds),
        entries.map((e) => e.charge.windowStart.toISOString()),
        entries.map((e) => e.requests),
        entries.map((e) => e.tokens),
        entries.map((e) => e.costMicroUsd),
        entries.map((e) => e.charge.limits.tokens ?? null),
        entries.map((e) => e.charge.limits.requests ?? null),
        entries.map((e) => e.charge.limits.costMicroUsd ?? null),
      ],
    );
  }

  async settle(charges: readonly BudgetCharge[], actual: { tokens: number; costMicroUsd: number }): Promise<void> {
    if (charges.length === 0) return;
    await this.db.query(
      `UPDATE usage_counters AS u
       SET reserved_tokens = greatest(0, u.reserved_tokens - c.reserved_tokens),
           reserved_cost_micro_usd = greatest(0, u.reserved_cost_micro_usd - c.reserved_cost),
           tokens = u.tokens + $6::bigint,
           cost_micro_usd = u.cost_micro_usd + $7::bigint,
           updated_at = now()
       FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::bigint[])
            AS c(budget_key, window_seconds, window_start, reserved_tokens, reserved_cost)
       WHERE u.budget_key = c.budget_key AND u.window_seconds = c.window_seconds AND u.window_start = c.window_start`,
      [
        charges.map((c) => c.key),
        charges.map((c) => c.windowSeconds),
        charges.map((c) => c.windowStart.toISOString()),
        charges.map((c) => c.tokens),
        charges.map((c) => c.costMicroUsd),
        actual.tokens,
        actual.costMicroUsd,
      ],
    );
  }

  async usageOf(keys: readonly string[], since: Date) {
    const rows = await this.db.query<Row>(
      `SELECT * FROM usage_counters WHERE budget_key = ANY($1::text[]) AND window_start >= $2
       ORDER BY window_start DESC, budget_key`,
      [[...keys], since.toISOString()],
    );
    return rows.map(standingOf);
  }

  async nearestLimits(count: number, now: Date): Promise<BudgetStanding[]> {
    if (count <= 0) return [];
    // Windows that may still be open (the longest, a month, began at most 31 days ago), then those that are.
    const rows = await this.db.query<Row>(
      `SELECT * FROM (
         SELECT *, least(
             CASE WHEN limit_tokens > 0 THEN (limit_tokens - tokens - reserved_tokens)::float8 / limit_tokens END,
             CASE WHEN limit_requests > 0 THEN (limit_requests - requests)::float8 / limit_requests END,
             CASE WHEN limit_cost_micro_usd > 0
               THEN (limit_cost_micro_usd - cost_micro_usd - reserved_cost_micro_usd)::float8 / limit_cost_micro_usd END
           ) AS left_share
         FROM usage_counters
         WHERE window_start > $1::timestamptz - interval '32 days'
           AND (CASE WHEN window_seconds = $3 THEN window_start + interval '1 month'
                     ELSE window_start + window_seconds * interval '1 second' END) > $1::timestamptz
       ) AS open
       WHERE left_share IS NOT NULL
       ORDER BY left_share, budget_key, window_seconds
       LIMIT $2`,
      [now.toISOString(), count, MONTH_ID],
    );
    return rows.map(standingOf);
  }

  /** A budget's counters as the database has them (zeros for a window nobody used yet). */
  async current(c: BudgetCharge): Promise<BudgetUsage> {
    const [row] = await this.db.query<Row>(
      'SELECT * FROM usage_counters WHERE budget_key = $1 AND window_seconds = $2 AND window_start = $3',
      [c.key, c.windowSeconds, c.windowStart.toISOString()],
    );
    return row
      ? usageOf(row)
      : { key: c.key, requests: 0, tokens: 0, reservedTokens: 0, costMicroUsd: 0, reservedCostMicroUsd: 0 };
  }
}
