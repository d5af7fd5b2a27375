/**
 * Just-in-time sessions through the SDK: opened on first use, revoked after the idle time the
 * policy sets for the caller's group or by an administrator; tokens issued before the revocation
 * get 401 with a message to sign in again, fresh tokens open a new session.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { bundleWithData } from '../../helpers/policy-variant.ts';
import { api } from '../../helpers/sluice-api.ts';

interface ApiSession {
  id: string;
  subject: string;
  connection: string;
  state: string;
  idleTimeoutSeconds: number;
  requests: number;
  revokedCause: string | null;
  revokedBy: string | null;
}

const BOB = { sub: 'bob', groups: ['admins'] };
const hello = { model: 'claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user' as const, content: 'hi' }] };

let h: Harness;
beforeAll(async () => {
  // engineering sessions go idle after 1 s in this variant of the shipped policy.
  const policyBundle = await bundleWithData((data) => {
    data.groups.engineering!.session_idle_timeout_seconds = 1;
  });
  h = await startHarness({ policyBundle, sessions: { sweepIntervalSeconds: 1 } });
});
afterAll(async () => h?.close());

async function sessionsOf(subject: string): Promise<ApiSession[]> {
  const { body } = await api<{ data: ApiSession[] }>(h, BOB, 'GET', '/sessions');
  return body.data.filter((s) => s.subject === subject);
}

/**
 * The SDK with a token issued after a revocation that just happened. iat has second precision, so
 * a token from the revocation's own second is refused too: this one is issued in the next second
 * (within clock tolerance) instead of the test waiting for that second to come.
 */
async function clientAfterRevocation(groups: string[], sub: string): Promise<Anthropic> {
  const iat = Math.floor(Date.now() / 1000) + 1;
  const token = await h.idp.mint({ sub, groups, client_id: 'e2e-client', iat, exp: iat + 300 });
  return new Anthropic({ baseURL: h.url, authToken: token, apiKey: null, maxRetries: 0 });
}

describe('JIT sessions', () => {
  it('revokes an idle session: the old token gets 401, a fresh one opens a new session', async () => {
    const client = await h.client(['engineering'], 'erin');
    await client.messages.create(hello);
    await client.messages.create(hello);
    const [opened] = await sessionsOf('erin');
    expect(opened).toMatchObject({ state: 'active', connection: 'anthropic', idleTimeoutSeconds: 1, requests: 2 });

    // Wait for the sweeper to revoke the idle session (1 s idle, swept every second), not a guessed time.
    const revoked = async (): Promise<void> => void expect((await sessionsOf('erin'))[0]?.state).toBe('revoked');
    await vi.waitFor(revoked, { timeout: 10_000, interval: 100 });
    const err = await client.messages.create(hello).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as Error).message).toMatch(/revoked after 1s idle.*sign in again/);
    expect((await sessionsOf('erin'))[0]).toMatchObject({ id: opened!.id, state: 'revoked', revokedCause: 'idle' });

    const fresh = await clientAfterRevocation(['engineering'], 'erin');
    expect((await fresh.messages.create(hello)).type).toBe('message');
    const now = await sessionsOf('erin');
    expect(now.find((s) => s.state === 'active')!.id).not.toBe(opened!.id);

    const events = await h.auditEvents();
    const access = events
      .filter((e) => e.kind === 'access' && e.subject === 'erin')
      .map((e) => `${(e as { state: string }).state}:${(e as { cause: string | null }).cause}`);
    expect(access).toEqual(['opened:null', 'revoked:idle', 'opened:null']);
    const decisions = events.filter((e) => e.kind === 'decision').filter((e) => e.subject === 'erin');
    expect(decisions[0]!.session_id).toBe(opened!.id);
    expect((decisions[0]!.input as { session: { id: string } }).session.id).toBe(opened!.id);
    const records = events.filter((e) => e.kind === 'exchange').filter((e) => e.subject === 'erin');
    expect(records[0]!.session_id).toBe(opened!.id);
  });

  it('lets an admin list and revoke sessions; others only their own', async () => {
    const client = await h.client(['admins'], 'frank');
    await client.messages.create(hello);
    const [session] = await sessionsOf('frank');
    expect(session!.state).toBe('active');

    const carol = { sub: 'carol', groups: ['engineering'] };
    const listed = await api<{ data: ApiSession[] }>(h, carol, 'GET', '/sessions');
    expect(listed.body.data.every((s) => s.subject === 'carol')).toBe(true);
    // Another subject's session is answered like a missing one: its id is not confirmed (console alike).
    expect((await api(h, carol, 'POST', `/sessions/${session!.id}/revoke`)).status).toBe(404);
    expect((await api(h, BOB, 'POST', '/sessions/ses_nope/revoke')).status).toBe(404);
    // A field in a revoke body is refused, not ignored (and nothing is revoked).
    expect((await api(h, BOB, 'POST', `/sessions/${session!.id}/revoke`, { cause: 'idle' })).status).toBe(400);
    expect((await sessionsOf('frank'))[0]!.state).toBe('active');

    const revoked = await api<ApiSession>(h, BOB, 'POST', `/sessions/${session!.id}/revoke`);
    expect(revoked.body).toMatchObject({ state: 'revoked', revokedCause: 'admin', revokedBy: 'bob' });
    expect((await api(h, BOB, 'POST', `/sessions/${session!.id}/revoke`)).status).toBe(409);
    const err = await client.messages.create(hello).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as Error).message).toMatch(/revoked by bob/);

    const fresh = await clientAfterRevocation(['admins'], 'frank');
    expect((await fresh.messages.create(hello)).type).toBe('message');
  });
});
