/**
 * Several Sluice instances acting as one through shared state on a real Apache Kafka broker
 * (scripts/kafka.sh, KRaft, 127.0.0.1): two gateways with their own state dirs and one set of
 * compacted state topics. An approver acts on either instance, a revocation or a grant made on
 * one holds on the other, and an instance started later has the whole state before it listens.
 */
import Anthropic from '@anthropic-ai/sdk';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { bundleWithData } from '../../helpers/policy-variant.ts';
import { api, waitForPending, type ApiApproval } from '../../helpers/sluice-api.ts';
import { TestBroker } from '../audit/kafka-broker.ts';

const BOB = { sub: 'bob', groups: ['admins'] };
const RISKY = 'Rotate the production credentials for the billing service.';
const hello = { model: 'claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user' as const, content: 'hi' }] };

let broker: TestBroker;
let a: Harness;
let b: Harness;
let policyBundle: string;
let stateKafka: Record<string, unknown>;
const extra: Harness[] = [];

/** Another instance on the same topics, trusting A's IdP, so one token works on every instance. */
async function instance(): Promise<Harness> {
  const h = await startHarness({
    policyBundle,
    stateKafka,
    identity: { issuer: a.idp.issuer, audience: a.idp.audience },
    approvals: { holdSeconds: 20, keepAliveSeconds: 1 },
  });
  return Object.create(h, { token: { value: a.token } }) as Harness;
}

const client = async (h: Harness, sub: string, groups: string[], path = '', token?: string): Promise<Anthropic> =>
  new Anthropic({
    baseURL: `${h.url}${path}`,
    authToken: token ?? (await a.token(groups, sub)),
    apiKey: null,
    maxRetries: 0,
  });
let carolToken: string; // issued before her session was revoked

beforeAll(async () => {
  broker = await TestBroker.start();
  policyBundle = await bundleWithData((data) => {
    data.access_grants = { required_connections: ['secondary'] };
  });
  const id = randomUUID().slice(0, 8);
  stateKafka = {
    brokers: [broker.bootstrap],
    partitions: 1,
    topics: { approvals: `test-${id}.approvals`, sessions: `test-${id}.sessions`, grants: `test-${id}.grants` },
  };
  a = await startHarness({ policyBundle, stateKafka, approvals: { holdSeconds: 20, keepAliveSeconds: 1 } });
  b = await instance();
}, 180_000);
afterAll(async () => {
  for (const h of [...extra, b, a]) await h?.close();
  await broker?.close();
}, 60_000);

describe('shared state across two instances (real broker)', () => {
  it('two Sluice instances share one approval flow (held on A, approved through B)', async () => {
    const before = a.upstream.requests.length;
    const call = (await client(a, 'alice', ['engineering'])).messages.create({
      ...hello,
      messages: [{ role: 'user', content: RISKY }],
    });
    // B learns of the pending approval only through Kafka: it never saw the request.
    const pending = await waitForPending(b, BOB, 'alice', 10_000);
    expect(a.upstream.requests.length).toBe(before);
    const decided = await api<ApiApproval>(b, BOB, 'POST', `/approvals/${pending.id}/approve`, {
      comment: 'approved on B',
    });
    expect(decided.status).toBe(200);
    const msg = await call;
    expect(msg.type).toBe('message');
    expect(a.upstream.requests.length).toBe(before + 1);
    expect(b.upstream.requests.length).toBe(0);
    // A used it; B sees that too, so the approval cannot release a second call anywhere.
    await expect
      .poll(async () => (await api<ApiApproval>(b, BOB, 'GET', `/approvals/${pending.id}`)).body.state, {
        timeout: 10_000,
      })
      .toBe('used');
    const statesOn = async (h: Harness) =>
      (await h.auditEvents())
        .filter((e) => e.kind === 'approval' && e.approval_id === pending.id)
        .map((e) => (e as { state: string }).state);
    expect(await statesOn(a)).toEqual(['requested', 'used']);
    expect(await statesOn(b)).toEqual(['approved']);
  });

  it('refuses on A (401) a session revoked through B', async () => {
    carolToken = await a.token(['engineering'], 'carol');
    const carol = await client(a, 'carol', ['engineering'], '', carolToken);
    expect((await carol.messages.create(hello)).type).toBe('message');
    const find = async () =>
      (
        await api<{ data: Array<{ id: string; subject: string; state: string }> }>(b, BOB, 'GET', '/sessions')
      ).body.data.find((s) => s.subject === 'carol');
    await expect.poll(find, { timeout: 10_000 }).toMatchObject({ state: 'active' });
    const session = (await find())!;
    expect((await api(b, BOB, 'POST', `/sessions/${session.id}/revoke`)).status).toBe(200);
    await expect
      .poll(
        async () =>
          (await carol.messages.create(hello).catch((e: unknown) => e)) instanceof Anthropic.AuthenticationError,
        { timeout: 10_000 },
      )
      .toBe(true);
    const err = (await carol.messages.create(hello).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(new RegExp(`${session.id}.*revoked by bob`));
  });

  it('honours on B a grant approved on A, and on A its revocation through B', async () => {
    const GINA = { sub: 'gina', groups: ['engineering'] };
    const onB = await client(b, GINA.sub, GINA.groups, '/c/secondary');
    const onA = await client(a, GINA.sub, GINA.groups, '/c/secondary');
    expect(await onB.messages.create(hello).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const requested = await api<{ id: string }>(a, GINA, 'POST', '/grants', {
      connection: 'secondary',
      duration_minutes: 30,
      reason: 'incident INC-7',
    });
    expect((await api(a, BOB, 'POST', `/grants/${requested.body.id}/approve`, { comment: 'for INC-7' })).status).toBe(
      200,
    );
    await expect
      .poll(async () => (await onB.messages.create(hello).catch((e: unknown) => e)) as object, { timeout: 10_000 })
      .toMatchObject({ type: 'message' });

    expect((await api<{ state: string }>(b, GINA, 'POST', `/grants/${requested.body.id}/revoke`)).body.state).toBe(
      'revoked',
    );
    await expect
      .poll(
        async () =>
          (await onA.messages.create(hello).catch((e: unknown) => e)) instanceof Anthropic.PermissionDeniedError,
        { timeout: 10_000 },
      )
      .toBe(true);
  });

  it('gives an instance started later the whole state before it listens', async () => {
    const c = await instance();
    extra.push(c);
    // No polling: start() returns only once the topics were read to their end.
    const sessions = (await api<{ data: Array<{ subject: string; state: string }> }>(c, BOB, 'GET', '/sessions')).body
      .data;
    expect(sessions.find((s) => s.subject === 'carol')).toMatchObject({ state: 'revoked' });
    const approvals = (await api<{ data: ApiApproval[] }>(c, BOB, 'GET', '/approvals')).body.data;
    expect(approvals.filter((x) => x.subject === 'alice').map((x) => x.state)).toEqual(['used']);
    const carol = await client(c, 'carol', ['engineering'], '', carolToken);
    expect(await carol.messages.create(hello).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.AuthenticationError);
  });
});
