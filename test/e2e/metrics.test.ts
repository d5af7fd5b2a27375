/**
 * /metrics after real calls: calls by operation, outcome and connection, stage durations as a
 * histogram, masks by type and direction; and, with metrics.tokenEnv, only for the token.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const TOKEN_ENV = 'SLUICE_TEST_METRICS_TOKEN';
let open: Harness;
let guarded: Harness;
const token = randomBytes(16).toString('hex');
beforeAll(async () => {
  process.env[TOKEN_ENV] = token;
  [open, guarded] = await Promise.all([
    startHarness(),
    startHarness({ metrics: { tokenEnv: TOKEN_ENV, budgetKeys: 1 } }),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.close(), guarded?.close()]);
  delete process.env[TOKEN_ENV];
});

describe('/metrics', () => {
  it('counts calls by operation, outcome and connection, with stage durations and masks', async () => {
    const client = await open.client(['engineering']);
    for (let i = 0; i < 3; i++)
      await client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hello' }],
      });
    await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'mail jane.roe@example.org' }],
    });
    const denied = await client.messages
      .create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'the project nightingale plan' }],
      })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Error);
    const text = await (await fetch(`${open.url}/metrics`)).text();
    expect(text).toContain(
      'sluice_requests_total{operation="messages.create",outcome="allow",connection="anthropic"} 3',
    );
    expect(text).toContain(
      'sluice_requests_total{operation="messages.create",outcome="mask",connection="anthropic"} 1',
    );
    expect(text).toContain(
      'sluice_requests_total{operation="messages.create",outcome="deny",connection="anthropic"} 1',
    );
    expect(text).toContain('sluice_masks_total{type="EMAIL",direction="request"} 1');
    expect(text).toMatch(/sluice_stage_duration_seconds_count\{stage="policy"\} 5\n/);
    expect(text).toMatch(/sluice_stage_duration_seconds_bucket\{stage="upstream_headers",le="\+Inf"\} 4\n/);
    // Tokens the four answers reported, labelled by the model's price family (a bounded set).
    const output = /sluice_tokens_total\{kind="output",model="claude-haiku-4-5",connection="anthropic"\} (\d+)/.exec(
      text,
    );
    expect(Number(output?.[1])).toBeGreaterThan(0);
    const records = (await open.auditEvents()).filter((e) => e.kind === 'exchange' && e.outcome !== 'deny');
    expect(records).toHaveLength(4);
    // Each answered call's record carries its cost at haiku-4-5's price.
    for (const r of records) expect((r as { cost_usd?: number }).cost_usd).toBeGreaterThan(0);
  });

  it('shows what is left of the budgets nearest their limit', async () => {
    const client = await open.client(['engineering'], 'dora');
    await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const usage = await fetch(`${open.url}/sluice/api/usage`, {
      headers: { authorization: `Bearer ${await open.token(['engineering'], 'dora')}` },
    });
    const [day] = ((await usage.json()) as { data: Array<{ tokens: number }> }).data;
    const text = await (await fetch(`${open.url}/metrics`)).text();
    expect(text).toContain('# TYPE sluice_budget_remaining gauge');
    // The shipped policy: engineering members get 20 M tokens a day, the group $10 000 a month.
    expect(text).toContain(
      `sluice_budget_remaining{key="subject:dora",window="86400",unit="tokens"} ${20e6 - day!.tokens}`,
    );
    expect(text).toContain('sluice_budget_limit{key="subject:dora",window="86400",unit="tokens"} 20000000');
    expect(text).toMatch(/sluice_budget_remaining\{key="group:engineering",window="2592000",unit="cost_usd"\} 9999\.9/);
  });

  it('with metrics.tokenEnv, answers only the bearer of that token', async () => {
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('sluice_requests_total');
    expect((await fetch(`${guarded.url}/healthz`)).status).toBe(200);
  });

  it('reports no more budgets than metrics.budgetKeys, the one nearest its limit', async () => {
    // ci members: 2 M tokens an hour each; engineering: 20 M a day. Both spend a little; the ci budget is nearer.
    for (const [groups, sub] of [
      [['engineering'], 'erin'],
      [['ci'], 'runner'],
    ] as const) {
      const client = await guarded.client(groups, sub);
      await client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      });
    }
    const text = await (
      await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    const series = text.split('\n').filter((l) => l.startsWith('sluice_budget_remaining{'));
    expect(series).toHaveLength(1);
    expect(series[0]).toMatch(/^sluice_budget_remaining\{key="subject:runner",window="3600",unit="tokens"\} \d+$/);
  });
});
