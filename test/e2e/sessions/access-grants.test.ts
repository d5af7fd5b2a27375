/**
 * Time-bounded access grants through the gateway: with a policy that requires a grant for the
 * "secondary" connection, calls there are denied until another approver approves a requested
 * grant; the grant then admits calls until it is revoked (or expires).
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { bundleWithData } from '../../helpers/policy-variant.ts';
import { api } from '../../helpers/sluice-api.ts';

interface ApiGrant {
  id: string;
  state: string;
  subject: string;
  connection: string;
  expiresAt: string | null;
  decidedBy: string | null;
}

const GINA = { sub: 'gina', groups: ['engineering'] };
const BOB = { sub: 'bob', groups: ['admins'] };
const hello = { model: 'claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user' as const, content: 'hi' }] };

let h: Harness;
beforeAll(async () => {
  const policyBundle = await bundleWithData((data) => {
    data.access_grants = { required_connections: ['secondary'] };
  });
  h = await startHarness({ policyBundle });
});
afterAll(async () => h?.close());

async function secondary(): Promise<Anthropic> {
  return new Anthropic({
    baseURL: `${h.url}/c/secondary`,
    authToken: await h.token(GINA.groups, GINA.sub),
    apiKey: null,
    maxRetries: 0,
  });
}

describe('access grants', () => {
  it('denies until a grant is approved, admits while it is active, denies again once revoked', async () => {
    const denied = await (await secondary()).messages.create(hello).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((denied as Error).message).toMatch(/needs an approved access grant/);
    // The default connection needs none.
    expect((await (await h.client(GINA.groups, GINA.sub)).messages.create(hello)).type).toBe('message');

    const requested = await api<ApiGrant>(h, GINA, 'POST', '/grants', {
      connection: 'secondary',
      duration_minutes: 30,
      reason: 'incident INC-9 on the secondary tenant',
    });
    expect(requested.status).toBe(201);
    expect(requested.body.state).toBe('requested');
    expect((await api(h, GINA, 'POST', `/grants/${requested.body.id}/approve`, { comment: 'self' })).status).toBe(403);
    expect(
      (await api(h, GINA, 'POST', '/grants', { connection: 'secondary', duration_minutes: 100000, reason: 'x' }))
        .status,
    ).toBe(400);
    const stillDenied = await (await secondary()).messages.create(hello).catch((e: unknown) => e);
    expect(stillDenied).toBeInstanceOf(Anthropic.PermissionDeniedError);

    const approved = await api<ApiGrant>(h, BOB, 'POST', `/grants/${requested.body.id}/approve`, {
      comment: 'for INC-9',
    });
    expect(approved.body).toMatchObject({ state: 'approved', decidedBy: 'bob' });
    expect(Date.parse(approved.body.expiresAt!) - Date.now()).toBeGreaterThan(29 * 60_000);
    expect((await (await secondary()).messages.create(hello)).type).toBe('message');

    expect((await api<ApiGrant>(h, GINA, 'POST', `/grants/${requested.body.id}/revoke`)).body.state).toBe('revoked');
    const afterRevoke = await (await secondary()).messages.create(hello).catch((e: unknown) => e);
    expect(afterRevoke).toBeInstanceOf(Anthropic.PermissionDeniedError);

    const events = (await h.auditEvents()).filter(
      (e) => e.kind === 'access' && e.object === 'grant' && e.grant_id === requested.body.id,
    );
    expect(events.map((e) => (e as { state: string }).state)).toEqual(['requested', 'approved', 'revoked']);
    const input = (await h.auditEvents())
      .filter((e) => e.kind === 'decision')
      .map((e) => e.input as { session?: { grants: string[] } } | null);
    expect(input.some((i) => i?.session?.grants.includes('secondary'))).toBe(true);
  });
});

describe('access grant requests that could not mean what they say', () => {
  it('a grant for a connection that does not exist is refused with 404, nothing created', async () => {
    const before = (await api<{ data: ApiGrant[] }>(h, GINA, 'GET', '/grants')).body.data.length;
    const refused = await api<{ error: { type: string; message: string } }>(h, GINA, 'POST', '/grants', {
      connection: 'nope',
      duration_minutes: 30,
      reason: 'x',
    });
    expect(refused.status).toBe(404);
    expect(refused.body.error).toMatchObject({ type: 'not_found_error', message: 'unknown connection "nope"' });
    expect((await api<{ data: ApiGrant[] }>(h, GINA, 'GET', '/grants')).body.data.length).toBe(before);
  });

  it('an unknown field in a request, approve or deny body is a 400, not silently dropped', async () => {
    const extra = await api(h, GINA, 'POST', '/grants', {
      connection: 'secondary',
      duration_minutes: 30,
      reason: 'x',
      scope: 'all',
    });
    expect(extra.status).toBe(400);
    const requested = await api<ApiGrant>(h, GINA, 'POST', '/grants', {
      connection: 'secondary',
      duration_minutes: 30,
      reason: 'y',
    });
    for (const verdict of ['approve', 'deny']) {
      const res = await api(h, BOB, 'POST', `/grants/${requested.body.id}/${verdict}`, {
        comment: 'ok',
        duration_minutes: 480,
      });
      expect(res.status).toBe(400);
    }
    expect(
      (await api<ApiGrant>(h, BOB, 'POST', `/grants/${requested.body.id}/deny`, { comment: 'no' })).body.state,
    ).toBe('denied');
  });

  it('a revoke takes no body fields: one sent is refused, not ignored; none or {} revokes', async () => {
    const body = { connection: 'secondary', duration_minutes: 30, reason: 'z' };
    const requested = await api<ApiGrant>(h, GINA, 'POST', '/grants', body);
    const grant = `/grants/${requested.body.id}`;
    await api(h, BOB, 'POST', `${grant}/approve`, { comment: 'ok' });
    const refused = await api<{ error: { message: string } }>(h, GINA, 'POST', `${grant}/revoke`, { reason: 'done' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('this action takes no body fields; got reason');
    expect((await api<ApiGrant>(h, GINA, 'GET', '/grants')).body).toMatchObject({
      data: expect.arrayContaining([expect.objectContaining({ id: requested.body.id, state: 'approved' })]),
    });
    expect((await api<ApiGrant>(h, GINA, 'POST', `${grant}/revoke`, {})).body.state).toBe('revoked');
  });
});
