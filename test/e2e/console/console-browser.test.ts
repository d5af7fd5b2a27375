/**
 * The approver console in a real browser (Debian chromium via playwright-core) against a real
 * OpenID provider (oidc-provider): an SDK call with a service-account token (client_credentials)
 * is held; bob signs in with the authorization code flow + PKCE, approves it with a comment while
 * the SDK call waits, and the call completes. Also: CSRF refusals, sessions page, replay, and an
 * access grant requested through the API, approved in the console, then admitting calls; the usage
 * chart (Chart.js served by the console itself) drawn from the data points the usage API returns.
 */
import Anthropic from '@anthropic-ai/sdk';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { startOidcProvider, type RunningOidcProvider } from '../../helpers/oidc-provider-idp.ts';
import { bundleWithData } from '../../helpers/policy-variant.ts';
import { freePort } from '../../helpers/free-port.ts';

const AUDIENCE = 'https://sluice.test/api'; // oidc-provider wants resource indicators as absolute URIs
const RISKY = 'Prepare the wire transfer file for the Q3 vendor run. Questions to dana.fox@example.com.';

let op: RunningOidcProvider;
let h: Harness;
let browser: Browser;
beforeAll(async () => {
  const port = await freePort();
  op = await startOidcProvider({
    audience: AUDIENCE,
    consoleRedirectUris: [`http://127.0.0.1:${port}/sluice/console/callback`],
    people: { bob: ['admins'], carl: ['engineering'] },
    services: { 'svc-reporting': { secret: 'test-only-secret-not-real', groups: ['engineering'] } },
  });
  // The shipped policy, except that the "secondary" connection needs an access grant.
  const policyBundle = await bundleWithData((data) => {
    data.access_grants = { required_connections: ['secondary'] };
  });
  h = await startHarness({
    port,
    policyBundle,
    identity: { issuer: op.issuer, audience: AUDIENCE },
    console: { enabled: true },
    approvals: { holdSeconds: 60, keepAliveSeconds: 1 },
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
  await op?.close();
});

describe('approver console', () => {
  it('signs in with code + PKCE and approves a held SDK call while it waits', async () => {
    const sdk = new Anthropic({
      baseURL: h.url,
      authToken: await op.serviceToken('svc-reporting'),
      apiKey: null,
      maxRetries: 0,
    });
    const held = sdk.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      messages: [{ role: 'user', content: RISKY }],
    });
    let settled = false;
    void held.finally(() => (settled = true)).catch(() => {});

    const page = await browser.newPage();
    await page.goto(`${h.url}/sluice/console/approvals`);
    // Redirected to the provider's login form (no pasted secrets: the provider signs bob in).
    expect(page.url()).toContain(op.issuer);
    await page.fill('input[name=login]', 'bob');
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.waitForURL(`${h.url}/sluice/console/approvals`);
    expect(await page.locator('.who').textContent()).toBe('bob');

    const card = page.locator('.approval[data-state=pending]').first();
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain('svc-reporting');
    // The approver sees the masked prompt: the e-mail address was detected and replaced.
    const preview = await card.locator('pre.prompt').textContent();
    expect(preview).toContain('wire transfer file');
    expect(preview).toContain('[EMAIL]');
    expect(preview).not.toContain('dana.fox@example.com');
    expect(await card.textContent()).toContain('keyword');
    expect(settled).toBe(false); // the SDK call is still waiting

    await card.locator('textarea[name=comment]').fill('Q3 run approved, ticket FIN-7');
    await card.locator('button[value=approve]').click();
    await page.waitForURL(/done=/);
    const msg = await held;
    expect(msg.type).toBe('message');
    expect(await page.locator('.notice').textContent()).toMatch(/approved/);
    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/console-approved.png', fullPage: true });

    // Sessions page, then the replay of the approved exchange from the audit log.
    await h.auditEvents();
    await page.goto(`${h.url}/sluice/console/sessions`);
    await page.locator('tr', { hasText: 'svc-reporting' }).locator('a').first().click();
    await page.locator('a[href^="/sluice/console/replay/"]').last().click();
    const replay = await page.locator('main').textContent();
    expect(replay).toContain('Prepare the wire transfer file');
    expect(replay).not.toContain('dana.fox@example.com'); // engineering's request masks e-mail
    expect(await page.locator('.answer').textContent()).toContain('mock-claude');
    await page.screenshot({ path: 'test-output/console-replay.png', fullPage: true });
    await page.close();
  });

  /** A fresh browser context signed in to the console as bob (code + PKCE at the provider when it asks). */
  async function signedInAsBob(): Promise<{ context: BrowserContext; page: Page }> {
    return signedInAs('bob');
  }

  async function signedInAs(person: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${h.url}/sluice/console/approvals`);
    if (page.url().includes(op.issuer)) {
      await page.fill('input[name=login]', person);
      await page.fill('input[name=password]', 'any');
      await page.click('button[type=submit]');
      await page.waitForURL(`${h.url}/sluice/console/approvals`);
    }
    return { context, page };
  }

  it('refuses console form posts without the CSRF token or from another origin', async () => {
    const { context, page } = await signedInAsBob();
    const csrf = await page.locator('input[name=_csrf]').first().getAttribute('value');
    expect(csrf).toBeTruthy();
    const target = `${h.url}/sluice/console/approvals/apr_doesnotexist/decide`;
    const noToken = await page.request.post(target, { form: { verdict: 'approve', comment: 'x' } });
    expect(noToken.status()).toBe(403);
    expect(await noToken.text()).toContain('SLUICE_ERR_CSRF');
    const wrongToken = await page.request.post(target, {
      form: { verdict: 'approve', comment: 'x', _csrf: `${csrf}x` },
    });
    expect(wrongToken.status()).toBe(403);
    const foreign = await page.request.post(target, {
      form: { verdict: 'approve', comment: 'x', _csrf: csrf! },
      headers: { origin: 'https://evil.example' },
    });
    expect(foreign.status()).toBe(403);
    // With the token from its own origin the post passes the CSRF check (and finds no such approval).
    const ok = await page.request.post(target, {
      form: { verdict: 'approve', comment: 'x', _csrf: csrf! },
      headers: { origin: h.url },
    });
    expect(ok.status()).toBe(404);
    // Without a console session there is nothing to forge at all.
    const anonymous = await fetch(target, {
      method: 'POST',
      body: new URLSearchParams({ verdict: 'approve', comment: 'x' }),
    });
    expect(anonymous.status).toBe(401);
    await context.close();
  });

  it('approves in the console a grant requested through the API; the call it gates then succeeds', async () => {
    const token = await op.serviceToken('svc-reporting');
    const secondary = new Anthropic({ baseURL: `${h.url}/c/secondary`, authToken: token, apiKey: null, maxRetries: 0 });
    const hello = { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
    const denied = await secondary.messages.create(hello).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const res = await fetch(`${h.url}/sluice/api/grants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'secondary', duration_minutes: 15, reason: 'nightly <report> backfill' }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };

    const { context, page } = await signedInAsBob();
    await page.click('header a[href="/sluice/console/grants"]');
    const card = page.locator(`.grant[id="${id}"][data-state=requested]`);
    expect(await card.textContent()).toContain('nightly <report> backfill'); // shown as text, escaped
    expect(await card.textContent()).toContain('svc-reporting');
    await card.locator('textarea[name=comment]').fill('backfill ok, ticket OPS-12');
    await card.locator('button[value=approve]').click();
    await page.waitForURL(/done=/);
    expect(await page.locator('.notice').textContent()).toBe(`${id} approved`);
    expect(await page.locator(`tr.grant[id="${id}"]`).getAttribute('data-state')).toBe('approved');
    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/console-grant-approved.png', fullPage: true });
    await context.close();

    expect((await secondary.messages.create(hello)).type).toBe('message');
    const events = (await h.auditEvents()).filter(
      (e) => e.kind === 'access' && e.object === 'grant' && e.grant_id === id,
    );
    expect(events.map((e) => [(e as { state: string }).state, (e as { actor: string | null }).actor])).toEqual([
      ['requested', 'svc-reporting'],
      ['approved', 'bob'],
    ]);
  });

  it('charts usage per budget key with the data points the API returns; other keys for admins only', async () => {
    const token = await op.serviceToken('svc-reporting');
    const sdk = new Anthropic({ baseURL: h.url, authToken: token, apiKey: null, maxRetries: 0 });
    await sdk.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const res = await fetch(`${h.url}/sluice/api/usage`, { headers: { authorization: `Bearer ${token}` } });
    const { data: rows } = (await res.json()) as {
      data: Array<{ key: string; window_start: string; tokens: number; limit_tokens: number | null }>;
    };
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({ key: 'subject:svc-reporting', limit_tokens: 20_000_000 });

    const { context, page } = await signedInAsBob();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.click('header a[href="/sluice/console/usage"]');
    // An administrator picks any key.
    await page.fill('form.usage-query input[name=key]', 'subject:svc-reporting');
    await page.click('form.usage-query button');
    await page.locator('body[data-chart=ready]').waitFor({ timeout: 10_000 });
    const drawn = await page.evaluate(() => {
      type Drawn = { data: { datasets: Array<{ label: string; type: string; data: unknown[]; hidden?: boolean }> } };
      const chart = (window as unknown as { Chart: { getChart(id: string): Drawn } }).Chart.getChart('usage-chart');
      const canvas = document.getElementById('usage-chart') as HTMLCanvasElement;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      return {
        datasets: chart.data.datasets.map((d) => ({ label: d.label, type: d.type, data: d.data, hidden: !!d.hidden })),
        painted: pixels.some((v) => v !== 0),
      };
    });
    const oldestFirst = [...rows].reverse();
    expect(drawn.datasets).toEqual([
      {
        label: 'subject:svc-reporting (day) tokens',
        type: 'bar',
        data: oldestFirst.map((r) => ({ x: r.window_start, y: r.tokens })),
        hidden: false,
      },
      {
        label: 'subject:svc-reporting (day) limit',
        type: 'line',
        data: oldestFirst.map((r) => ({ x: r.window_start, y: 20_000_000 })),
        // A few hundred tokens of 20 M: the limit line starts hidden, or it would flatten the bars.
        hidden: true,
      },
    ]);
    expect(drawn.painted).toBe(true);
    // Chart.js came from the console, not a CDN: every request stayed on the gateway.
    expect(requested.some((u) => u.endsWith('/sluice/console/assets/chart.umd.min.js'))).toBe(true);
    expect(requested.filter((u) => !u.startsWith(h.url))).toEqual([]);
    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/console-usage.png', fullPage: true });
    await context.close();

    // Anyone else sees their own budget only, and is refused another's.
    const carl = await signedInAs('carl');
    await carl.page.goto(`${h.url}/sluice/console/usage`);
    expect(await carl.page.locator('form.usage-query input[name=key]').count()).toBe(0);
    expect(await carl.page.locator('form.usage-query').textContent()).toContain('subject:carl');
    const other = await carl.page.goto(`${h.url}/sluice/console/usage?key=subject%3Asvc-reporting`);
    expect(other!.status()).toBe(403);
    expect(await carl.page.locator('.error').getAttribute('data-code')).toBe('SLUICE_ERR_FORBIDDEN');
    await carl.context.close();
  });
});
