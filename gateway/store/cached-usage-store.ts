import type {
  BudgetCharge,
  BudgetRefusal,
  BudgetStanding,
  BudgetUsage,
  UsageEntry,
  UsageStore,
} from '../usage/usage-store.ts';
import type { StateDb, StateLogger } from './state-db.ts';
import { fits, type SqlUsageStore } from './sql-usage-store.ts';

/** How often the counters' changes are written. */
const FLUSH_MS = 250;
/** A counter unused this long, with nothing reserved or unwritten, is dropped from memory. */
const IDLE_MS = 10 * 60_000;

interface Counter {
  key: string;
  requests: number;
  tokens: number;
  reservedTokens: number;
  costMicroUsd: number;
  reservedCostMicroUsd: number;
  lastUsed: number;
}

/** Changes not yet written, per counter: increments, so they add up whatever else wrote. */
interface Delta {
  /** The latest charge: its limits are the ones written. */
  charge: BudgetCharge;
  requests: number;
  tokens: number;
  reservedTokens: number;
  costMicroUsd: number;
  reservedCostMicroUsd: number;
}

// The window's start as a number: toISOString ran for every budget of every call (~1% of a call's CPU).
const rowKey = (c: BudgetCharge): string => `${c.key}\u0000${c.windowSeconds}\u0000${c.windowStart.getTime()}`;

/**
 * Budgets when this process is the database's only writer (the embedded PGlite, locked to one
 * process): the counters live in memory, authoritative, and their changes are written as
 * increments every 250 ms, so a reservation costs no query. A crash loses at most the last
 * 250 ms of counted use (an undercount of the calls in that instant); reservations of calls in
 * flight do not outlive a restart (none are in flight after one), so they are cleared at start.
 */
export class CachedUsageStore implements UsageStore {
  readonly #counters = new Map<string, Promise<Counter>>();
  readonly #deltas = new Map<string, Delta>();
  readonly #flusher: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: StateDb,
    private readonly sql: SqlUsageStore,
    private readonly log: StateLogger,
  ) {
    this.#flusher = setInterval(() => void this.flush(), FLUSH_MS);
    this.#flusher.unref();
  }

  static async open(db: StateDb, sql: SqlUsageStore, log: StateLogger): Promise<CachedUsageStore> {
    await db.query(
      `UPDATE usage_counters SET reserved_tokens = 0, reserved_cost_micro_usd = 0
       WHERE reserved_tokens <> 0 OR reserved_cost_micro_usd <> 0`,
    );
    return new CachedUsageStore(db, sql, log);
  }

  async check(charges: readonly BudgetCharge[]): Promise<BudgetRefusal | undefined> {
    for (const c of charges) {
      const n = await this.#counter(c);
      if (!fits(n, c)) return { charge: c, usage: snapshot(n) };
    }
    return undefined;
  }

  async reserve(charges: readonly BudgetCharge[]): Promise<BudgetRefusal | undefined> {
    const counters = await Promise.all(charges.map((c) => this.#counter(c)));
    // From here to the end nothing awaits: the check and the increments are one step.
    for (const [i, c] of charges.entries()) {
      const n = counters[i]!;
      if (!fits(n, c)) return { charge: c, usage: snapshot(n) };
    }
    for (const [i, c] of charges.entries()) {
      const n = counters[i]!;
      n.requests += 1;
      n.reservedTokens += c.tokens;
      n.reservedCostMicroUsd += c.costMicroUsd;
      n.lastUsed = Date.now();
      this.#add(c, { requests: 1, reservedTokens: c.tokens, reservedCostMicroUsd: c.costMicroUsd });
    }
    return undefined;
  }

  async add(entries: readonly UsageEntry[]): Promise<void> {
    for (const e of entries) {
      const n = await this.#counter(e.charge);
      n.requests += e.requests;
      n.tokens += e.tokens;
      n.costMicroUsd += e.costMicroUsd;
      n.lastUsed = Date.now();
      this.#add(e.charge, { requests: e.requests, tokens: e.tokens, costMicroUsd: e.costMicroUsd });
    }
  }

  async settle(charges: readonly BudgetCharge[], actual: { tokens: number; costMicroUsd: number }): Promise<void> {
    for (const c of charges) {
      const n = await this.#counter(c);
      const releasedTokens = Math.min(n.reservedTokens, c.tokens);
      const releasedCost = Math.min(n.reservedCostMicroUsd, c.costMicroUsd);
      n.reservedTokens -= releasedTokens;
      n.reservedCostMicroUsd -= releasedCost;
      n.tokens += actual.tokens;
      n.costMicroUsd += actual.costMicroUsd;
      this.#add(c, {
        reservedTokens: -releasedTokens,
        reservedCostMicroUsd: -releasedCost,
        tokens: actual.tokens,
        costMicroUsd: actual.costMicroUsd,
      });
    }
  }

  async usageOf(keys: readonly string[], since: Date) {
    await this.flush();
    return this.sql.usageOf(keys, since);
  }

  async nearestLimits(count: number, now: Date): Promise<BudgetStanding[]> {
    await this.flush();
    return this.sql.nearestLimits(count, now);
  }

  /** Writes the changes since the last flush; kept for the next one if the database refuses. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#deltas.size > 0) {
        const batch = [...this.#deltas.values()];
        this.#deltas.clear();
        try {
          await this.db.query(
            `INSERT INTO usage_counters AS u (budget_key, window_seconds, window_start, requests, tokens,
               reserved_tokens, cost_micro_usd, reserved_cost_micro_usd, limit_tokens, limit_requests,
               limit_cost_micro_usd)
             SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::bigint[],
               $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
             ON CONFLICT (budget_key, window_seconds, window_start) DO UPDATE
             SET requests = u.requests + EXCLUDED.requests,
                 limit_tokens = EXCLUDED.limit_tokens,
                 limit_requests = EXCLUDED.limit_requests,
                 limit_cost_micro_usd = EXCLUDED.limit_cost_micro_usd,
                 tokens = u.tokens + EXCLUDED.tokens,
                 reserved_tokens = greatest(0, u.reserved_tokens + EXCLUDED.reserved_tokens),
                 cost_micro_usd = u.cost_micro_usd + EXCLUDED.cost_micro_usd,
                 reserved_cost_micro_usd = greatest(0, u.reserved_cost_micro_usd + EXCLUDED.reserved_cost_micro_usd),
                 updated_at = now()`,
            [
              batch.map((d) => d.charge.key),
              batch.map((d) => d.charge.windowSeconds),
              batch.map((d) => d.charge.windowStart.toISOString()),
              batch.map((d) => d.requests),
              batch.map((d) => d.tokens),
              batch.map((d) => d.reservedTokens),
              batch.map((d) => d.costMicroUsd),
              batch.map((d) => d.reservedCostMicroUsd),
              batch.map((d) => d.charge.limits.tokens ?? null),
              batch.map((d) => d.charge.limits.requests ?? null),
              batch.map((d) => d.charge.limits.costMicroUsd ?? null),
            ],
          );
        } catch (err) {
          for (const d of batch) this.#add(d.charge, d);
          this.log.warn({ err: (err as Error).message, counters: batch.length }, 'budget counters not written yet');
        }
      }
      await this.#forgetIdle();
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#flusher);
    await this.flush();
  }

  /** The counter of `c`'s budget and window, read from the database once, then kept. */
  #counter(c: BudgetCharge): Promise<Counter> {
    const key = rowKey(c);
    let counter = this.#counters.get(key);
    if (!counter) {
      counter = this.sql.current(c).then((u) => ({ ...u, lastUsed: Date.now() }));
      this.#counters.set(key, counter);
      // A failed read is not kept: the next call reads again.
      counter.catch(() => this.#counters.delete(key));
    }
    return counter;
  }

  #add(charge: BudgetCharge, change: Partial<Omit<Delta, 'charge'>>): void {
    const key = rowKey(charge);
    const d = this.#deltas.get(key) ?? {
      charge,
      requests: 0,
      tokens: 0,
      reservedTokens: 0,
      costMicroUsd: 0,
      reservedCostMicroUsd: 0,
    };
    d.charge = charge;
    d.requests += change.requests ?? 0;
    d.tokens += change.tokens ?? 0;
    d.reservedTokens += change.reservedTokens ?? 0;
    d.costMicroUsd += change.costMicroUsd ?? 0;
    d.reservedCostMicroUsd += change.reservedCostMicroUsd ?? 0;
    this.#deltas.set(key, d);
  }

  async #forgetIdle(): Promise<void> {
    const now = Date.now();
    for (const [key, pending] of this.#counters) {
      const n = await pending.catch(() => undefined);
      if (!n) continue;
      if (
        n.reservedTokens === 0 &&
        n.reservedCostMicroUsd === 0 &&
        !this.#deltas.has(key) &&
        now - n.lastUsed > IDLE_MS
      )
        this.#counters.delete(key);
    }
  }
}

function snapshot(n: Counter): BudgetUsage {
  return {
    key: n.key,
    requests: n.requests,
    tokens: n.tokens,
    reservedTokens: n.reservedTokens,
    costMicroUsd: n.costMicroUsd,
    reservedCostMicroUsd: n.reservedCostMicroUsd,
  };
}
