/** One budget's share of a reservation: where it counts and what it may not exceed. */
export interface BudgetCharge {
  readonly key: string;
  readonly windowSeconds: number;
  readonly windowStart: Date;
  readonly tokens: number;
  readonly costMicroUsd: number;
  readonly limits: {
    readonly tokens: number | undefined;
    readonly requests: number | undefined;
    readonly costMicroUsd: number | undefined;
  };
}

/** A budget's counters as they stand: settled use plus what calls in flight reserved. */
export interface BudgetUsage {
  readonly key: string;
  readonly requests: number;
  readonly tokens: number;
  readonly reservedTokens: number;
  readonly costMicroUsd: number;
  readonly reservedCostMicroUsd: number;
}

/** A budget in its current window with the limits it was last reserved under: what /metrics shows. */
export interface BudgetStanding extends BudgetUsage {
  readonly windowSeconds: number;
  readonly windowStart: string;
  readonly limits: BudgetCharge['limits'];
}

/** Use added to one budget's counter without a reservation. */
export interface UsageEntry {
  readonly charge: BudgetCharge;
  readonly requests: number;
  readonly tokens: number;
  readonly costMicroUsd: number;
}

/** A charge that did not fit, and its budget's counters at that moment. */
export interface BudgetRefusal {
  readonly charge: BudgetCharge;
  readonly usage: BudgetUsage;
}

/**
 * Usage counters in the shared state store. `reserve` is all or nothing across the charges and
 * atomic per counter, so concurrent calls on any number of instances can overrun a budget only
 * by what calls already in flight reserved, never by a lost update.
 */
export interface UsageStore {
  /**
   * Whether every charge (and one more request on each) fits its budget as it stands, reserving
   * nothing: the refusal of the first that does not. A check, not a hold (see Message Batches).
   */
  check(charges: readonly BudgetCharge[]): Promise<BudgetRefusal | undefined>;
  /** Reserves every charge (and counts one request on each), or none; the refusal says which did not fit. */
  reserve(charges: readonly BudgetCharge[]): Promise<BudgetRefusal | undefined>;
  /**
   * Adds use that was never reserved (a Message Batch request's, known once its result is read):
   * requests, tokens and cost on each charge's counter, whatever its limit (the use happened).
   */
  add(entries: readonly UsageEntry[]): Promise<void>;
  /** Releases what was reserved and adds what the call really used. */
  settle(
    charges: readonly BudgetCharge[],
    actual: { readonly tokens: number; readonly costMicroUsd: number },
  ): Promise<void>;
  /**
   * The counters of `keys` in their windows starting at or after `since`, newest first, with the
   * limits last reserved under (none known for windows counted before schema version 3).
   */
  usageOf(keys: readonly string[], since: Date): Promise<BudgetStanding[]>;
  /**
   * The `count` budgets whose current window (at `now`) has the smallest share of a limit left,
   * nearest first: a bounded set, whatever the number of keys.
   */
  nearestLimits(count: number, now: Date): Promise<BudgetStanding[]>;
}
