/**
 * Budgets through the whole gateway with the official SDK: the policy sets them, the gateway
 * reserves each call's estimate before it goes upstream and settles to the answer's usage; a
 * call that does not fit is a 429 rate_limit_error naming the budget, which the SDK's retry
 * honours once the window has reset.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { bundleWithData } from '../helpers/policy-variant.ts';
import { api } from '../helpers/sluice-api.ts';

/**
 * Every call here reserves its input estimate + max_tokens 100, about 102 tokens, and settles to
 * the echo's reported usage, a few tokens: a budget of 300 fits two calls in flight at once and
 * a dozen or so in a row.
 */
const params = (text: string, model = 'claude-sonnet-4-6') => ({
  model,
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: text }],
});

interface UsageRow {
  key: string;
  window_seconds: number;
  window_start: string;
  requests: number;
  tokens: number;
  reserved_tokens: number;
  cost_usd: number;
}

let h: Harness;
let policyBundle: string;
beforeAll(async () => {
  policyBundle = await bundleWithData((data) => {
    (data as Record<string, unknown>).budgets = {
      // engineering: 300 tokens a minute; ci: 2 requests per 2-second window.
      subject: { engineering: { window: 'minute', tokens: 300 }, ci: { window: 2, tokens: 1_000_000 } },
      group: { ci: { window: 2, requests: 2 } },
    };
  });
  h = await startHarness({ policyBundle });
});
afterAll(async () => h?.close());

async function usage(sub: string, groups: string[], key?: string): Promise<UsageRow[]> {
  const query = key ? `?key=${encodeURIComponent(key)}` : '';
  const { status, body } = await api<{ data: UsageRow[] }>(h, { sub, groups }, 'GET', `/usage${query}`);
  expect(status).toBe(200);
  return body.data;
}

describe('budgets', () => {
  it('refuses the call that does not fit with 429 naming the budget, before the upstream sees it', async () => {
    const client = await h.client(['engineering'], 'alice');
    const answered = [];
    // Each call leaves its real usage behind; soon the next one's reservation no longer fits.
    for (let i = 0; i < 60; i++) {
      const result = await client.messages.create(params(`call ${i}`)).catch((err: unknown) => err);
      answered.push(result);
      if (result instanceof Anthropic.RateLimitError) break;
    }
    const refusal = answered.at(-1) as InstanceType<typeof Anthropic.RateLimitError>;
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    expect(refusal.error).toMatchObject({ error: { type: 'rate_limit_error' } });
    expect(refusal.message).toMatch(/budget \\"subject:alice\\" is spent/);
    expect(Number(refusal.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(refusal.headers?.get('x-sluice-budget-key')).toBe('subject:alice');
    expect(refusal.headers?.get('anthropic-ratelimit-tokens-limit')).toBe('300');
    const before = h.upstream.requests.length;
    await expect(client.messages.create(params('one more'))).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(h.upstream.requests.length).toBe(before);

    // Settled to what the answers used (the echo reports its usage), nothing left reserved.
    const [row] = await usage('alice', ['engineering']);
    expect(row).toMatchObject({ key: 'subject:alice', window_seconds: 60, reserved_tokens: 0 });
    const served = answered.length - 1;
    expect(served).toBeGreaterThan(2);
    // Settled to the real usage, not the reservations: more calls fit than 300 / 102.
    expect(row!.tokens).toBeGreaterThan(0);
    expect(row!.tokens).toBeLessThanOrEqual(300);
    expect(row!.requests).toBeGreaterThanOrEqual(served);
  });

  it('audits a refusal for budget with that budget, its limit and what was left, and nothing else', async () => {
    const client = await h.client(['engineering'], 'erin');
    let refusal: InstanceType<typeof Anthropic.RateLimitError> | undefined;
    for (let i = 0; i < 60 && !refusal; i++) {
      await client.messages.create(params(`call ${i}`)).catch((err: unknown) => {
        if (err instanceof Anthropic.RateLimitError) refusal = err;
        else throw err;
      });
    }
    expect(refusal).toBeDefined();
    const events = await h.auditEvents();
    const refused = events.filter(
      (e) => e.subject === 'erin' && (e as { error?: { code: string } }).error?.code === 'SLUICE_ERR_BUDGET_EXCEEDED',
    );
    // One decision event and one exchange record, each with the same account of the budget.
    expect(refused.map((e) => e.kind).sort()).toEqual(['decision', 'exchange']);
    const rows = await usage('erin', ['engineering']);
    for (const e of refused) {
      const budget = (e as { budget?: Record<string, unknown> }).budget;
      // The window the refusal was in (a minute may have turned since).
      const row = rows.find((r) => r.window_start === budget?.window_start);
      expect(budget).toEqual({
        key: 'subject:erin',
        window_seconds: 60,
        window_start: expect.stringMatching(/:00\.000Z$/),
        limit: { tokens: 300 },
        remaining: { tokens: Number(refusal!.headers?.get('anthropic-ratelimit-tokens-remaining')) },
        requested: { tokens: expect.any(Number), cost_usd: expect.any(Number) },
      });
      // What was left is the limit less what erin's calls used: the counters the API shows.
      expect((budget as { remaining: { tokens: number } }).remaining.tokens).toBe(300 - row!.tokens);
      expect((budget as { requested: { tokens: number } }).requested.tokens).toBeGreaterThan(300 - row!.tokens);
      // Another subject's budget (alice's, bob's) appears nowhere in erin's refusal.
      expect(JSON.stringify(e)).not.toMatch(/subject:(alice|bob|carol)/);
    }
  });

  it('lets concurrent calls overrun nothing: what they reserved never exceeds the budget', async () => {
    const client = await h.client(['engineering'], 'bob');
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client.messages.create(params(`concurrent ${i}`)).then(
          () => 'ok',
          (err: unknown) => (err instanceof Anthropic.RateLimitError ? '429' : String(err)),
        ),
      ),
    );
    expect(results.filter((r) => r !== 'ok' && r !== '429')).toEqual([]);
    const passed = results.filter((r) => r === 'ok').length;
    // 40 calls' usage is more than 300 tokens: some were refused, and what passed stayed within it.
    expect(passed).toBeGreaterThan(0);
    expect(results).toContain('429');
    const [row] = await usage('bob', ['engineering']);
    expect(row!.tokens).toBeLessThanOrEqual(300);
    expect(row!.reserved_tokens).toBe(0);
  });

  it('reserves nothing for a call the policy denies', async () => {
    const client = await h.client(['engineering'], 'carol');
    await client.messages.create(params('fits'));
    const [before] = await usage('carol', ['engineering']);
    await expect(client.messages.create(params('not my model', 'claude-opus-4-1'))).rejects.toBeInstanceOf(
      Anthropic.PermissionDeniedError,
    );
    const [after] = await usage('carol', ['engineering']);
    expect(after).toEqual(before);
  });

  it('rolls over with the window; the SDK retries after retry-after and gets through', async () => {
    const token = await h.token(['ci'], 'runner');
    const retrying = new Anthropic({ baseURL: h.url, authToken: token, apiKey: null, maxRetries: 2 });
    const once = new Anthropic({ baseURL: h.url, authToken: token, apiKey: null, maxRetries: 0 });
    // Two requests per 2-second window for the ci group: spend them, then a third must wait for the next.
    let refused = 0;
    while (refused === 0) {
      await once.messages.create(params('spend', 'claude-haiku-4-5')).catch((err: unknown) => {
        if (err instanceof Anthropic.RateLimitError) refused += 1;
        else throw err;
      });
    }
    const msg = await retrying.messages.create(params('after the reset', 'claude-haiku-4-5'));
    expect(msg.type).toBe('message');
    // Only administrators read another budget than their own.
    const denied = await api(h, { sub: 'runner', groups: ['ci'] }, 'GET', '/usage?key=group%3Aci');
    expect(denied.status).toBe(403);
    const rows = await usage('root', ['admins'], 'group:ci');
    expect(rows.length).toBeGreaterThanOrEqual(2);
  });

  it("the SDK's retry on a 429 for budget waits at least retry-after before the second attempt", async () => {
    const token = await h.token(['ci'], 'patient');
    const once = new Anthropic({ baseURL: h.url, authToken: token, apiKey: null, maxRetries: 0 });
    /** Each attempt the SDK makes: when it went out, when its answer came, its status and retry-after. */
    let attempts: Array<{ sent: number; answered: number; status: number; retryAfter: number }> = [];
    const retrying = new Anthropic({
      baseURL: h.url,
      authToken: token,
      apiKey: null,
      maxRetries: 2,
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const sent = Date.now();
        const res = await fetch(url, init);
        attempts.push({
          sent,
          answered: Date.now(),
          status: res.status,
          retryAfter: Number(res.headers.get('retry-after')),
        });
        return res;
      },
    });
    // Spend group:ci's 2 requests of this 2-second window, then call with retries; should the window
    // turn in between (the first attempt passes), spend the next one and try again.
    for (let round = 0; round < 5 && attempts[0]?.status !== 429; round++) {
      attempts = [];
      let refused = false;
      while (!refused) {
        await once.messages.create(params('spend', 'claude-haiku-4-5')).catch((err: unknown) => {
          if (err instanceof Anthropic.RateLimitError) refused = true;
          else throw err;
        });
      }
      expect((await retrying.messages.create(params('wait for it', 'claude-haiku-4-5'))).type).toBe('message');
    }
    expect(attempts[0]).toMatchObject({ status: 429 });
    expect(attempts.at(-1)).toMatchObject({ status: 200 });
    for (let i = 1; i < attempts.length; i++) {
      const before = attempts[i - 1]!;
      expect(before.retryAfter).toBeGreaterThanOrEqual(1);
      // Timers fire on whole milliseconds: a millisecond of rounding either side.
      expect(attempts[i]!.sent - before.answered).toBeGreaterThanOrEqual(before.retryAfter * 1000 - 1);
    }
  });

  it('settles what a stream the caller cut mid-way used: its input and the output it was sent', async () => {
    // A slow stream (a delta every 20 ms) the caller leaves after a few deltas, long before message_delta.
    const slow = await startHarness({ policyBundle, mock: { deltaIntervalMs: 20, chunkChars: 8 } });
    try {
      const sub = 'streamer';
      const client = await slow.client(['ci'], sub);
      const stream = await client.messages.create({
        ...params(`echo this back: ${'lorem ipsum dolor sit amet '.repeat(40)}`, 'claude-haiku-4-5'),
        max_tokens: 2000,
        stream: true,
      });
      let inputTokens = 0;
      let received = '';
      let deltas = 0;
      for await (const event of stream) {
        if (event.type === 'message_start') inputTokens = event.message.usage.input_tokens;
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') received += event.delta.text;
        if (event.type === 'content_block_delta' && ++deltas === 30) break; // the SDK aborts the request
      }
      expect(inputTokens).toBeGreaterThan(0);
      // Settled once the gateway sees the caller gone: nothing left reserved.
      const rows = await vi.waitFor(
        async () => {
          const { body } = await api<{ data: UsageRow[] }>(slow, { sub, groups: ['ci'] }, 'GET', '/usage');
          const mine = body.data.filter((r) => r.key === `subject:${sub}`);
          expect(mine.length).toBeGreaterThan(0);
          expect(mine.every((r) => r.reserved_tokens === 0)).toBe(true);
          return mine;
        },
        { timeout: 10_000, interval: 50 },
      );
      const settled = rows.reduce((n, r) => n + r.tokens, 0);
      // The input message_start reported plus at least the output already streamed (~4 characters a
      // token, as the echo counts), never more than was reserved for the output (max_tokens).
      expect(settled).toBeGreaterThanOrEqual(inputTokens + Math.floor(received.length / 4));
      expect(settled).toBeLessThanOrEqual(inputTokens + 2000);
      // The upstream's own count of the whole answer would be far more: the stream was cut well before its end.
      expect(settled).toBeLessThan(inputTokens + 200);
    } finally {
      await slow.close();
    }
  });
});
