/**
 * A caller that could not wait: the hold times out with the approval id, an approver decides
 * later, and the identical request resubmitted with x-sluice-approval-id passes once, only for
 * the same subject and body, only before the approval expires; pending approvals survive a restart.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { bundleWithData } from '../../helpers/policy-variant.ts';
import { api, waitForPending } from '../../helpers/sluice-api.ts';

const BOB = { sub: 'bob', groups: ['admins'] };
const params = (text: string) => ({
  model: 'claude-sonnet-4-6',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: text }],
});
const withId = (id: string) => ({ headers: { 'x-sluice-approval-id': id } });

let h: Harness;
beforeAll(async () => {
  // Approvals live 3 s in this variant of the shipped policy; callers are held 1 s.
  const policyBundle = await bundleWithData((data) => {
    data.approval.ttl_seconds = 3;
  });
  h = await startHarness({ policyBundle, approvals: { holdSeconds: 1, keepAliveSeconds: 1 } });
});
afterAll(async () => h?.close());

/** Sends a held call that times out; returns the approval id from the 403 message. */
async function timedOut(client: Anthropic, text: string): Promise<string> {
  const err = await client.messages.create(params(text)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  const message = (err as Error).message;
  expect(message).toMatch(/still pending/);
  const id = /x-sluice-approval-id: (apr_[\w-]+)/.exec(message)?.[1];
  expect(id).toBeDefined();
  return id!;
}

describe('resubmitting with x-sluice-approval-id', () => {
  it('passes once for the same subject and body, and never for another body or subject', async () => {
    const text = 'Draft the wire transfer memo for vendor 7.';
    const alice = await h.client(['engineering'], 'alice');
    const id = await timedOut(alice, text);
    expect((await api(h, BOB, 'GET', `/approvals/${id}`)).body).toMatchObject({ state: 'pending', subject: 'alice' });

    // Still pending: a resubmission waits again and times out again, on the same approval.
    const stillPending = await alice.messages.create(params(text), withId(id)).catch((e: unknown) => e);
    expect((stillPending as Error).message).toContain(id);
    expect((await api(h, BOB, 'GET', '/approvals?state=pending')).body.data).toHaveLength(1);

    expect((await api(h, BOB, 'POST', `/approvals/${id}/approve`, { comment: 'fine' })).status).toBe(200);
    const before = h.upstream.requests.length;
    const otherBody = await alice.messages
      .create(params(`${text} And add a second one.`), withId(id))
      .catch((e: unknown) => e);
    expect(otherBody).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((otherBody as Error).message).toMatch(/body differs/);
    const mallory = await h.client(['engineering'], 'mallory');
    const otherSubject = await mallory.messages.create(params(text), withId(id)).catch((e: unknown) => e);
    expect((otherSubject as Error).message).toMatch(/does not fit/);
    expect(h.upstream.requests.length).toBe(before);

    const msg = await alice.messages.create(params(text), withId(id));
    expect(msg.type).toBe('message');
    expect(h.upstream.requests.length).toBe(before + 1);
    const replay = await alice.messages.create(params(text), withId(id)).catch((e: unknown) => e);
    expect(replay).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((replay as Error).message).toMatch(/already used/);
    expect(h.upstream.requests.length).toBe(before + 1);
    const garbage = await alice.messages.create(params(text), withId('not-an-id')).catch((e: unknown) => e);
    expect(garbage).toBeInstanceOf(Anthropic.PermissionDeniedError);
  });

  it('refuses an approval that expired before it was used', async () => {
    const text = 'Export the customer database export job config.';
    const alice = await h.client(['engineering'], 'alice');
    const id = await timedOut(alice, text);
    expect((await api(h, BOB, 'POST', `/approvals/${id}/approve`, { comment: 'ok' })).status).toBe(200);
    // Wait for the approval itself to say it expired (its 3 s ttl ran out), not for a guessed time.
    await vi.waitFor(
      async () => {
        expect((await api<{ state: string }>(h, BOB, 'GET', `/approvals/${id}`)).body.state).toBe('expired');
      },
      { timeout: 10_000, interval: 100 },
    );
    const late = await alice.messages.create(params(text), withId(id)).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((late as Error).message).toMatch(new RegExp(`approval ${id} expired`));
    const states = (await h.auditEvents())
      .filter((e) => e.kind === 'approval' && e.approval_id === id)
      .map((e) => (e as { state: string }).state);
    expect(states).toEqual(['requested', 'approved', 'expired']);
  });

  it('keeps pending approvals across a restart', async () => {
    const text = 'Rotate the production credentials tonight.';
    const alice = await h.client(['engineering'], 'alice');
    const id = await timedOut(alice, text);
    await h.restart();
    const pending = await waitForPending(h, BOB, 'alice');
    expect(pending.id).toBe(id);
    expect((await api(h, BOB, 'POST', `/approvals/${id}/approve`, { comment: 'after restart' })).status).toBe(200);
    const again = await h.client(['engineering'], 'alice');
    expect((await again.messages.create(params(text), withId(id))).type).toBe('message');
  });
});
