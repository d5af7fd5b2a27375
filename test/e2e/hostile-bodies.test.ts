/**
 * Hostile bodies and upstream faults the other e2e files do not cover: JSON nested deep enough to
 * break any recursive walk (in every place of the body) is a 400 that costs the gateway nothing,
 * leaves a clean audit chain and does not stop it serving; a flat body near the limit is served;
 * an upstream that refuses connections is a 502; an upstream that sends a malformed SSE event
 * ends the caller's stream with Anthropic's error event (never a frame the SDK cannot parse), and
 * the session record counts it and says why the stream ended.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEventBody, ExchangeRecordBody } from '../../gateway/audit/events.ts';
import { verifyChain } from '../../gateway/cli/audit-verify.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ bodyBytes: 2 * 1024 * 1024 });
});
afterAll(async () => h?.close());

const headers = async (target = h): Promise<Record<string, string>> => ({
  authorization: `Bearer ${await target.token(['engineering'])}`,
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
});

async function post(
  target: Harness,
  payload: string,
): Promise<{ status: number; json: { type: string; error: { type: string; message: string } } }> {
  const res = await fetch(`${target.url}/v1/messages`, {
    method: 'POST',
    headers: await headers(target),
    body: payload,
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, json: (await res.json()) as never };
}

async function lastExchange(target: Harness): Promise<{ decision: DecisionEventBody; session: ExchangeRecordBody }> {
  const events = await target.auditEvents();
  return {
    decision: events.filter((e) => e.kind === 'decision').at(-1) as DecisionEventBody,
    session: events.filter((e) => e.kind === 'exchange').at(-1) as ExchangeRecordBody,
  };
}

async function servesNormally(): Promise<void> {
  const client = await h.client(['engineering']);
  expect(
    (
      await client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'still there?' }],
      })
    ).type,
  ).toBe('message');
}

const deep = (n: number) => '['.repeat(n) + '"x"' + ']'.repeat(n);
const head = '"model":"claude-haiku-4-5","max_tokens":16';
const hi = '"messages":[{"role":"user","content":"hi"}]';

describe('deeply nested JSON', () => {
  // 300 000 levels: JSON.parse would take it, JSON.stringify (audit, masking) would throw RangeError.
  const places: Array<[string, string]> = [
    [
      'message content',
      `{${head},"messages":[{"role":"user","content":` +
        `[{"type":"tool_result","tool_use_id":"t","content":${deep(300_000)}}]}]}`,
    ],
    ['metadata (a field Sluice passes through)', `{${head},${hi},"metadata":${deep(300_000)}}`],
    [
      'tool_use input',
      `{${head},"messages":[{"role":"assistant","content":` +
        `[{"type":"tool_use","id":"t","name":"x","input":${deep(300_000)}}]}]}`,
    ],
    ["a tool's input_schema", `{${head},${hi},"tools":[{"name":"t","input_schema":${deep(300_000)}}]}`],
  ];
  for (const [where, payload] of places) {
    it(`in ${where}: 400, nothing forwarded, audited once, still serving`, async () => {
      const before = h.upstream.requests.length;
      const { status, json } = await post(h, payload);
      expect(status).toBe(400);
      expect(json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect(json.error.message).toMatch(/nested deeper than 64 levels/);
      expect(h.upstream.requests.length).toBe(before);
      const { decision, session } = await lastExchange(h);
      expect(decision).toMatchObject({ outcome: 'error', error: { code: 'SLUICE_ERR_BAD_JSON' } });
      expect(session.decision_id).toBe(decision.decision_id);
      await servesNormally();
    });
  }

  it('leaves the audit chain without a gap or an edit', async () => {
    const lines = (await h.auditEvents()).map((e) => JSON.stringify(e));
    expect(
      verifyChain(lines.map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` }))).problems,
    ).toEqual([]);
  });

  it('a flat body of 1.9 MB (200 000 array items) under the limit is served', async () => {
    const items = Array.from({ length: 200_000 }, (_, i) => i % 10).join(',');
    const payload = `{${head},${hi},"metadata":{"user_id":"u","extra":[${items}]}}`;
    expect(payload.length).toBeGreaterThan(390_000);
    const { status } = await post(h, payload.replace(`[${items}]`, `[${items},${items},${items},${items},${items}]`));
    // The mock upstream refuses unknown metadata fields as the real API would; what matters is that Sluice
    // forwarded it.
    expect([200, 400]).toContain(status);
    expect(JSON.stringify(h.upstream.requests.at(-1)?.body ?? '').length).toBeGreaterThan(1_900_000);
    await servesNormally();
  });
});

describe('upstream faults', () => {
  it('an upstream that refuses connections is a 502 api_error, audited with the status', async () => {
    const dead = await startHarness();
    try {
      await dead.upstream.close(); // the port is now closed: connect() gets ECONNREFUSED
      const { status, json } = await post(dead, `{${head},${hi}}`);
      expect(status).toBe(502);
      expect(json).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      expect(json.error.message).toMatch(/upstream "anthropic" unavailable/);
      const { decision, session } = await lastExchange(dead);
      expect(decision.outcome).toBe('allow'); // the policy allowed it; the upstream failed
      expect(session.error?.code).toBe('SLUICE_ERR_UPSTREAM_UNAVAILABLE');
      expect(session.response).toMatchObject({ status: 502, error: { type: 'api_error' } });
      const client = new Anthropic({
        baseURL: dead.url,
        authToken: await dead.token(['engineering']),
        apiKey: null,
        maxRetries: 0,
      });
      const err = await client.messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    } finally {
      await dead.close();
    }
  });

  it(
    'a malformed SSE event ends the stream with an error event, never relays the broken frame, ' +
      'and the record says so',
    async () => {
      h.upstream.setFault({ kind: 'malformed-sse' });
      try {
        const res = await fetch(`${h.url}/v1/messages`, {
          method: 'POST',
          headers: await headers(),
          body: `{${head},"stream":true,${hi}}`,
        });
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text).toMatch(/^event: message_start/);
        expect(text).not.toContain('{not json');
        expect(text.trimEnd()).toMatch(
          new RegExp(
            /event: error\ndata: \{"type":"error","error":\{"type":"api_error",/.source +
              /"message":"upstream sent a malformed[^\n]*\}\}$/.source,
          ),
        );
        const { session } = await lastExchange(h);
        expect(session.response).toMatchObject({
          status: 200,
          stream: true,
          events_malformed: 1,
          error: { type: 'api_error', message: expect.stringMatching(/malformed/) },
        });

        const client = new Anthropic({
          baseURL: h.url,
          authToken: await h.token(['engineering']),
          apiKey: null,
          maxRetries: 0,
        });
        const stream = client.messages.stream(JSON.parse(`{${head},${hi}}`));
        await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError);
      } finally {
        h.upstream.setFault(undefined);
      }
    },
  );
});

describe('duplicate keys and ambiguous spellings: the upstream gets the document the policy decided on', () => {
  const hidden = '"messages":[{"role":"user","content":"card 4111 1111 1111 1111, mail jane.roe@example.org"}]';
  const payloads: Array<[string, string]> = [
    ['messages', `{${head},${hidden},${hi}}`],
    ['model', `{"model":"claude-opus-4-1","max_tokens":16,${hi},"model":"claude-haiku-4-5"}`],
    ['model spelled with an escape', `{"\\u006dodel":"claude-opus-4-1",${head},${hi}}`],
    ['content inside a message', `{${head},"messages":[{"role":"user","content":"hi","content":"secret"}]}`],
  ];
  for (const [what, payload] of payloads) {
    it(`a second ${what}: 400 naming the key, nothing forwarded, audited`, async () => {
      const before = h.upstream.requests.length;
      const { status, json } = await post(h, payload);
      expect(status).toBe(400);
      expect(json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect(json.error.message).toMatch(/key "(messages|model|content)" appears more than once/);
      expect(h.upstream.requests.length).toBe(before);
      const { decision } = await lastExchange(h);
      expect(decision).toMatchObject({ outcome: 'error', error: { code: 'SLUICE_ERR_DUPLICATE_KEY' } });
    });
  }

  it('escaped keys and numbers another parser could read differently go upstream as canonical JSON', async () => {
    const payload =
      '{"\\u006dodel":"claude-haiku-4-5","max_tokens":1.6e1,"temperature":0.50,' +
      '"messages":[{"role":"user","content":"hi"}]}';
    const { status } = await post(h, payload);
    expect(status).toBe(200);
    const sent = h.upstream.requests.at(-1)!;
    expect(sent.text).toBe(JSON.stringify(JSON.parse(payload)));
    expect(sent.text).toContain('"model":"claude-haiku-4-5","max_tokens":16,"temperature":0.5');
  });

  it('a body written as JSON.stringify writes it goes upstream byte for byte', async () => {
    const payload = `{${head},${hi},"metadata":{"user_id":"u-1"}}`;
    expect((await post(h, payload)).status).toBe(200);
    expect(h.upstream.requests.at(-1)!.text).toBe(payload);
  });
});
