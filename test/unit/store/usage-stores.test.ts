/**
 * Budget counters on both stores: the SQL one every instance of a shared server uses, and the
 * in-memory one of the embedded database's only writer. Both must refuse exactly what does not
 * fit, all or none, and add up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqlUsageStore } from '../../../gateway/store/sql-usage-store.ts';
import type { StateStores } from '../../../gateway/store/open-state.ts';
import type { BudgetCharge, UsageStore } from '../../../gateway/usage/usage-store.ts';
import { openTestState } from '../../helpers/test-state.ts';

const start = new Date('2026-12-04T00:00:00Z');
const charge = (key: string, tokens: number, limit: number, requests?: number): BudgetCharge => ({
  key,
  windowSeconds: 86_400,
  windowStart: start,
  tokens,
  costMicroUsd: tokens,
  limits: { tokens: limit, requests, costMicroUsd: undefined },
});

let state: StateStores | undefined;
afterEach(async () => {
  await state?.close();
  state = undefined;
});

const stores: Array<[string, (s: StateStores) => UsageStore]> = [
  ['the SQL store', (s) => new SqlUsageStore(s.db)],
  ['the single-writer store', (s) => s.usage],
];

describe.each(stores)('%s', (_name, storeOf) => {
  it('lets exactly as many concurrent reservations through as fit, and settles to what was used', async () => {
    state = await openTestState();
    const usage = storeOf(state);
    const results = await Promise.all(Array.from({ length: 100 }, () => usage.reserve([charge('subject:a', 10, 500)])));
    expect(results.filter((r) => r === undefined)).toHaveLength(50);
    expect(results.find((r) => r !== undefined)).toMatchObject({
      charge: { key: 'subject:a' },
      usage: { reservedTokens: 500 },
    });
    for (let i = 0; i < 50; i++) await usage.settle([charge('subject:a', 10, 500)], { tokens: 3, costMicroUsd: 3 });
    const [row] = await usage.usageOf(['subject:a'], start);
    expect(row).toMatchObject({ tokens: 150, reservedTokens: 0, requests: 50, costMicroUsd: 150 });
  });

  it('reserves all budgets of a call or none', async () => {
    state = await openTestState();
    const usage = storeOf(state);
    expect(await usage.reserve([charge('subject:b', 10, 100), charge('group:g', 10, 15)])).toBeUndefined();
    const refused = await usage.reserve([charge('subject:b', 10, 100), charge('group:g', 10, 15)]);
    expect(refused?.charge.key).toBe('group:g');
    const rows = await usage.usageOf(['subject:b', 'group:g'], start);
    expect(rows.map((r) => [r.key, r.reservedTokens, r.requests]).sort()).toEqual([
      ['group:g', 10, 1],
      ['subject:b', 10, 1],
    ]);
    // A request limit counts calls, not tokens.
    expect(await usage.reserve([charge('repo:x', 1, 1000, 1)])).toBeUndefined();
    expect((await usage.reserve([charge('repo:x', 1, 1000, 1)]))?.charge.key).toBe('repo:x');
  });

  it('checks whether charges fit without reserving anything', async () => {
    state = await openTestState();
    const usage = storeOf(state);
    expect(await usage.reserve([charge('subject:chk', 60, 100)])).toBeUndefined();
    expect(await usage.check([charge('subject:chk', 40, 100)])).toBeUndefined();
    expect(await usage.check([charge('subject:chk', 40, 100), charge('group:chk', 41, 40)])).toMatchObject({
      charge: { key: 'group:chk' },
    });
    expect(await usage.check([charge('subject:chk', 41, 100)])).toMatchObject({ usage: { reservedTokens: 60 } });
    const [row] = await usage.usageOf(['subject:chk'], start);
    expect(row).toMatchObject({ requests: 1, reservedTokens: 60, tokens: 0 });
    expect(await usage.usageOf(['group:chk'], start)).toEqual([]);
  });

  it('adds unreserved use (batch results) whatever the limit, keeping what was reserved', async () => {
    state = await openTestState();
    const usage = storeOf(state);
    expect(await usage.reserve([charge('subject:batch', 40, 100)])).toBeUndefined();
    await usage.add([{ charge: charge('subject:batch', 0, 100), requests: 3, tokens: 90, costMicroUsd: 7 }]);
    const [row] = await usage.usageOf(['subject:batch'], start);
    // Past the limit: the use happened upstream already. The reservation in flight is untouched.
    expect(row).toMatchObject({ requests: 4, tokens: 90, reservedTokens: 40, costMicroUsd: 7 });
    expect(row!.limits).toMatchObject({ tokens: 100 });
    expect((await usage.reserve([charge('subject:batch', 1, 100)]))?.charge.key).toBe('subject:batch');
  });

  it('names the budgets nearest their limit in their open window, nearest first, no more than asked', async () => {
    state = await openTestState();
    const usage = storeOf(state);
    // Share left: far 90 %, half 50 %, near 10 % (of tokens), reqs 0 % (of requests); an ended window is not open.
    await usage.reserve([charge('subject:far', 10, 100)]);
    await usage.reserve([charge('subject:half', 50, 100)]);
    await usage.reserve([charge('subject:near', 90, 100)]);
    await usage.settle([charge('subject:near', 90, 100)], { tokens: 90, costMicroUsd: 90 });
    await usage.reserve([charge('subject:reqs', 1, 1000, 1)]);
    await usage.reserve([{ ...charge('subject:old', 99, 100), windowStart: new Date('2026-12-03T00:00:00Z') }]);
    const now = new Date('2026-12-04T12:00:00Z');
    const top = await usage.nearestLimits(3, now);
    expect(top.map((s) => s.key)).toEqual(['subject:reqs', 'subject:near', 'subject:half']);
    expect(top[1]).toMatchObject({
      windowSeconds: 86_400,
      windowStart: start.toISOString(),
      tokens: 90,
      reservedTokens: 0,
      limits: { tokens: 100, requests: undefined, costMicroUsd: undefined },
    });
    expect(top[0]!.limits).toMatchObject({ tokens: 1000, requests: 1 });
    expect((await usage.nearestLimits(10, now)).map((s) => s.key)).not.toContain('subject:old');
    // The next day every one of these windows has ended.
    expect(await usage.nearestLimits(10, new Date('2026-12-05T00:00:00Z'))).toEqual([]);
  });
});

describe('the single-writer store', () => {
  it('keeps settled use across a restart and clears the reservations of calls that cannot be in flight', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-usage-'));
    state = await openTestState(dir);
    await state.usage.reserve([charge('subject:c', 100, 1000)]);
    await state.usage.settle([charge('subject:c', 100, 1000)], { tokens: 40, costMicroUsd: 40 });
    await state.usage.reserve([charge('subject:c', 100, 1000)]); // in flight when the process stops
    await state.close();
    state = await openTestState(dir);
    const [row] = await state.usage.usageOf(['subject:c'], start);
    expect(row).toMatchObject({ tokens: 40, reservedTokens: 0, requests: 2 });
    await state.close();
    state = undefined;
    await rm(dir, { recursive: true, force: true });
  });
});
