/**
 * Human approval through the whole gateway with the official SDK: a prompt with a high-risk
 * keyword is held (connection open, 102 keep-alives) until another approver decides through the
 * REST API; approved calls proceed exactly as submitted, denied ones get 403 with the id.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { api, waitForPending, type ApiApproval } from '../../helpers/sluice-api.ts';

const ALICE = { sub: 'alice', groups: ['engineering'] };
const BOB = { sub: 'bob', groups: ['admins'] };
const RISKY = 'Rotate the production credentials for the billing service.';
const params = (text: string) => ({
  model: 'claude-sonnet-4-6',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: text }],
});

let h: Harness;
let hook: Server;
const hooked: unknown[] = [];
beforeAll(async () => {
  hook = createServer((req, res) => {
    let raw = '';
    req
      .on('data', (c: Buffer) => (raw += c))
      .on('end', () => {
        hooked.push(JSON.parse(raw));
        res.writeHead(204).end();
      });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  h = await startHarness({
    approvals: { holdSeconds: 20, keepAliveSeconds: 1, webhook: { url }, publicUrl: 'https://sluice.example' },
  });
});
afterAll(async () => {
  await h?.close();
  await new Promise((r) => hook?.close(r));
});

describe('a held request', () => {
  it('waits for another approver, then proceeds exactly as submitted', async () => {
    const before = h.upstream.requests.length;
    const client = await h.client(ALICE.groups, ALICE.sub);
    const call = client.messages.create(params(RISKY));
    const pending = await waitForPending(h, BOB, 'alice');
    expect(pending).toMatchObject({
      state: 'pending',
      reason: 'the prompt mentions production credentials',
      approverGroups: ['admins'],
      may_decide: true,
    });
    // The sleep is the test: held for 1.5 s (keep-alives flowing), nothing reaches the upstream.
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.upstream.requests.length).toBe(before);

    const decided = await api<ApiApproval>(h, BOB, 'POST', `/approvals/${pending.id}/approve`, {
      comment: 'planned rotation, ticket OPS-12',
    });
    expect(decided.status).toBe(200);
    expect(decided.body.verdict).toMatchObject({ approver: 'bob', comment: 'planned rotation, ticket OPS-12' });
    const msg = await call;
    expect(msg.type).toBe('message');
    expect(h.upstream.requests.length).toBe(before + 1);
    expect(JSON.stringify(h.upstream.requests.at(-1)!.body)).toContain(RISKY);

    const events = await h.auditEvents();
    const states = events
      .filter((e) => e.kind === 'approval' && e.approval_id === pending.id)
      .map((e) => (e as { state: string }).state);
    expect(states).toEqual(['requested', 'approved', 'used']);
    const decision = events.find(
      (e) => e.kind === 'decision' && (e.approval as { id?: string } | null)?.id === pending.id,
    );
    expect(decision).toMatchObject({ outcome: 'allow', approval: { id: pending.id, state: 'used', approver: 'bob' } });
    expect(hooked).toContainEqual(
      expect.objectContaining({
        type: 'sluice.approval.pending',
        approval: expect.objectContaining({ id: pending.id, subject: 'alice' }),
        console_url: 'https://sluice.example/sluice/console/approvals',
      }),
    );
  });

  it('holds a streaming call without sending headers, then streams once approved', async () => {
    const client = await h.client(ALICE.groups, ALICE.sub);
    const call = client.messages.create({ ...params(`${RISKY} (stream)`), stream: true });
    const pending = await waitForPending(h, BOB, 'alice');
    expect((await api(h, BOB, 'POST', `/approvals/${pending.id}/approve`, { comment: 'ok' })).status).toBe(200);
    const types: string[] = [];
    for await (const event of await call) types.push(event.type);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
  });

  it('is refused with 403, the approval id and the comment when denied', async () => {
    const before = h.upstream.requests.length;
    const client = await h.client(ALICE.groups, ALICE.sub);
    const call = client.messages.create(params(`${RISKY} (deny me)`)).catch((e: unknown) => e);
    const pending = await waitForPending(h, BOB, 'alice');
    expect(
      (await api(h, BOB, 'POST', `/approvals/${pending.id}/deny`, { comment: 'not during the freeze' })).status,
    ).toBe(200);
    const err = (await call) as InstanceType<typeof Anthropic.PermissionDeniedError>;
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(err.message).toContain(pending.id);
    expect(err.message).toContain('not during the freeze');
    expect(h.upstream.requests.length).toBe(before);
    const denied = (await h.auditEvents()).filter((e) => e.kind === 'approval' && e.approval_id === pending.id);
    expect(denied.at(-1)).toMatchObject({ state: 'denied', actor: 'bob', comment: 'not during the freeze' });
  });

  it('cannot be approved by its requester, by a non-approver, twice, or without a comment', async () => {
    const aliceAdmin = { sub: 'alice', groups: ['engineering', 'admins'] };
    const client = await h.client(aliceAdmin.groups, 'alice');
    const call = client.messages.create(params(`${RISKY} (self)`)).catch((e: unknown) => e);
    const pending = await waitForPending(h, BOB, 'alice');

    const self = await api<{ error: { type: string; message: string } }>(
      h,
      aliceAdmin,
      'POST',
      `/approvals/${pending.id}/approve`,
      { comment: 'mine' },
    );
    expect(self.status).toBe(403);
    expect(self.body.error.message).toMatch(/your own request/);
    const carol = { sub: 'carol', groups: ['engineering'] };
    const outsider = await api<{ error: { message: string } }>(h, carol, 'POST', `/approvals/${pending.id}/approve`, {
      comment: 'sure',
    });
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.message).toMatch(/only members of admins/);
    expect((await api(h, carol, 'GET', `/approvals/${pending.id}`)).status).toBe(404);
    expect((await api(h, BOB, 'POST', `/approvals/${pending.id}/approve`, {})).status).toBe(400);
    // A field the API does not know is refused, not dropped: the approver meant something by it.
    for (const verdict of ['approve', 'deny']) {
      const extra = await api(h, BOB, 'POST', `/approvals/${pending.id}/${verdict}`, {
        comment: 'ok',
        ttl_seconds: 999999,
      });
      expect(extra.status).toBe(400);
    }
    expect((await api(h, { sub: 'x', groups: [] }, 'GET', '/approvals')).status).toBe(200);
    expect((await fetch(`${h.url}/sluice/api/approvals`)).status).toBe(401);

    expect((await api(h, BOB, 'POST', `/approvals/${pending.id}/deny`, { comment: 'no' })).status).toBe(200);
    const again = await api(h, { sub: 'dave', groups: ['admins'] }, 'POST', `/approvals/${pending.id}/approve`, {
      comment: 'overrule',
    });
    expect(again.status).toBe(409);
    expect(await call).toBeInstanceOf(Anthropic.PermissionDeniedError);
  });
});
