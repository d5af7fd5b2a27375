/**
 * Budget windows roll over on a fake clock (the budget stage takes `now`): a day's budget spent at
 * 23:59:59 UTC is refused until midnight, with retry-after the seconds to it, and fits again at
 * 00:00:00; a month's runs to the first of the next calendar month, however long the month.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import type { StateStores } from '../../../gateway/store/open-state.ts';
import { reserveBudgets } from '../../../gateway/usage/budget-stage.ts';
import { PriceTable } from '../../../gateway/usage/prices.ts';
import { openTestState } from '../../helpers/test-state.ts';
import type { Budget } from '../../../gateway/policy/decision.ts';

const prices = new PriceTable();
const call = { model: 'claude-haiku-4-5', estimatedInputTokens: 20, maxTokens: 60 };
const budget = (window: Budget['window']): Budget => ({
  key: `subject:${String(window)}`,
  window,
  tokens: 100,
  requests: undefined,
  costUsd: undefined,
});

let state: StateStores | undefined;
afterEach(async () => {
  await state?.close();
  state = undefined;
});

/** The refusal of a reservation that does not fit at `now`. */
async function refusal(b: Budget, now: Date): Promise<SluiceError> {
  const err = await reserveBudgets(state!.usage, prices, [b], call, now).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SluiceError);
  return err as SluiceError;
}

describe('budget windows on a fake clock', () => {
  it('refuses a spent day budget until midnight UTC, then lets the next call in', async () => {
    state = await openTestState();
    const day = budget('day');
    await reserveBudgets(state.usage, prices, [day], call, new Date('2026-12-04T00:00:01Z'));
    const late = await refusal(day, new Date('2026-12-04T23:59:59Z'));
    expect(late.code).toBe('SLUICE_ERR_BUDGET_EXCEEDED');
    expect(late.headers['retry-after']).toBe('1');
    expect(late.headers['x-sluice-budget-reset']).toBe('2026-12-05T00:00:00.000Z');
    const next = await reserveBudgets(state.usage, prices, [day], call, new Date('2026-12-05T00:00:00Z'));
    expect(next.charges[0]!.windowStart.toISOString()).toBe('2026-12-05T00:00:00.000Z');
    const rows = await state.usage.usageOf([day.key], new Date('2026-12-01T00:00:00Z'));
    expect(rows.map((r) => [r.windowStart, r.reservedTokens])).toEqual([
      ['2026-12-05T00:00:00.000Z', 80],
      ['2026-12-04T00:00:00.000Z', 80],
    ]);
  });

  it('runs a month budget to the first of the next calendar month', async () => {
    state = await openTestState();
    const month = budget('month');
    await reserveBudgets(state.usage, prices, [month], call, new Date('2027-02-01T00:00:00Z'));
    // February 2027 has 28 days: still February's window on the 28th, March's on the 1st.
    const feb28 = await refusal(month, new Date('2027-02-28T23:00:00Z'));
    expect(feb28.headers['retry-after']).toBe('3600');
    expect(feb28.headers['x-sluice-budget-reset']).toBe('2027-03-01T00:00:00.000Z');
    await expect(
      reserveBudgets(state.usage, prices, [month], call, new Date('2027-03-01T00:00:00Z')),
    ).resolves.toMatchObject({ charges: [{ key: 'subject:month' }] });
  });

  it('aligns a window in seconds to multiples of it since the epoch', async () => {
    state = await openTestState();
    const tenMinutes = budget(600);
    await reserveBudgets(state.usage, prices, [tenMinutes], call, new Date('2026-12-04T10:09:00Z'));
    expect((await refusal(tenMinutes, new Date('2026-12-04T10:09:59Z'))).headers['retry-after']).toBe('1');
    await expect(
      reserveBudgets(state.usage, prices, [tenMinutes], call, new Date('2026-12-04T10:10:00Z')),
    ).resolves.toBeDefined();
  });
});
