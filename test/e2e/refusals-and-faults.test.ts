/**
 * What callers get when something is wrong — their token, their body, or the upstream: always a
 * well-formed Anthropic error (or SSE error event) with the status the SDK expects, never a hang.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { unsignedToken } from '../helpers/test-idp.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ bodyBytes: 64 * 1024, headersTimeoutMs: 800, bodyTimeoutMs: 800 });
});
afterEach(() => h.upstream.setFault(undefined));
afterAll(async () => h?.close());

const body = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };

async function post(
  payload: string | Blob,
  headers: Record<string, string> = {},
  token?: string,
): Promise<{ status: number; json: { type: string; error: { type: string; message: string } } }> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token ?? (await h.token(['engineering']))}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      ...headers,
    },
    body: payload,
  });
  return { status: res.status, json: (await res.json()) as never };
}

describe('token failures are 401 authentication_error', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['expired', () => h.idp.mint({ iat: now() - 600, exp: now() - 300 }), /expired/i],
    ['not yet valid', () => h.idp.mint({ nbf: now() + 600 }), /not (yet )?valid|nbf/i],
    ['wrong issuer', () => h.idp.mint({ iss: 'https://evil.example' }), /iss/i],
    ['wrong audience', () => h.idp.mint({ aud: 'someone-else' }), /aud/i],
    ['unknown kid', () => h.idp.mint({}, { kid: 'no-such-key' }), /key|kid/i],
    [
      'alg none',
      async () =>
        unsignedToken(
          { alg: 'none', typ: 'JWT' },
          { iss: h.idp.issuer, aud: h.idp.audience, sub: 'alice', iat: now(), exp: now() + 60 },
        ),
      /alg/i,
    ],
    [
      'HS256 signed with the public key',
      () =>
        h.idp.mint(
          {},
          { alg: 'HS256', key: new TextEncoder().encode(h.idp.keys.RS256.publicPem), kid: h.idp.keys.RS256.kid },
        ),
      /alg/i,
    ],
    [
      'tampered payload',
      async () => {
        const [header, , sig] = (await h.idp.mint({ groups: ['ci'] })).split('.');
        const forged = Buffer.from(
          JSON.stringify({
            iss: h.idp.issuer,
            aud: h.idp.audience,
            sub: 'alice',
            groups: ['admins'],
            iat: now(),
            exp: now() + 60,
          }),
        ).toString('base64url');
        return `${header}.${forged}.${sig}`;
      },
      /signature/i,
    ],
    ['lifetime over the maximum', () => h.idp.mint({ iat: now(), exp: now() + 86_400 }), /lifetime/i],
  ];
  for (const [name, make, message] of cases) {
    it(name, async () => {
      const before = h.upstream.requests.length;
      const { status, json } = await post(JSON.stringify(body), {}, await make());
      expect(status).toBe(401);
      expect(json).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
      expect(json.error.message).toMatch(message);
      expect(h.upstream.requests.length).toBe(before);
    });
  }

  it('no token at all, through the SDK', async () => {
    const client = new Anthropic({ baseURL: h.url, apiKey: 'sk-ant-not-accepted-here', maxRetries: 0 });
    await expect(client.messages.create(body as never)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  });
});

describe('bad requests are 400 invalid_request_error / 413 request_too_large', () => {
  it('malformed JSON', async () => {
    const { status, json } = await post('{"model": "claude-haiku-4-5", ');
    expect(status).toBe(400);
    expect(json.error.type).toBe('invalid_request_error');
  });

  it('wrong types name the field', async () => {
    const { status, json } = await post(JSON.stringify({ ...body, max_tokens: 'lots' }));
    expect(status).toBe(400);
    expect(json.error.message).toMatch(/max_tokens/);
  });

  it('invalid UTF-8', async () => {
    const { status, json } = await post(new Blob([new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])]));
    expect(status).toBe(400);
    expect(json.error.type).toBe('invalid_request_error');
  });

  it('a body over limits.bodyBytes', async () => {
    const big = JSON.stringify({ ...body, messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    const { status, json } = await post(big);
    expect(status).toBe(413);
    expect(json.error.type).toBe('request_too_large');
  });

  it('a non-JSON content type', async () => {
    const { status, json } = await post('hello', { 'content-type': 'text/plain' });
    expect(status).toBe(400);
    expect(json.error.type).toBe('invalid_request_error');
  });
});

describe('upstream faults', () => {
  it('529 overloaded and 429 with retry-after pass through to the SDK', async () => {
    const client = await h.client(['engineering']);
    h.upstream.setFault({ kind: 'status', status: 529 });
    const overloaded = await client.messages.create(body as never).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    h.upstream.setFault({ kind: 'status', status: 429, retryAfter: 7 });
    const limited = await client.messages.create(body as never).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('7');
  });

  it('an upstream that never answers is a 504 after headersTimeoutMs', async () => {
    h.upstream.setFault({ kind: 'hang' });
    const started = Date.now();
    const { status, json } = await post(JSON.stringify(body));
    expect(status).toBe(504);
    expect(json.error.type).toBe('api_error');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an upstream answering garbage is a 502', async () => {
    h.upstream.setFault({ kind: 'garbage' });
    const { status, json } = await post(JSON.stringify(body));
    expect(status).toBe(502);
    expect(json.error.type).toBe('api_error');
  });

  it('a reset mid-stream ends the SSE stream with an error event, and the SDK surfaces it', async () => {
    h.upstream.setFault({ kind: 'reset-after-events', events: 3 });
    const res = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.token(['engineering'])}`,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        ...body,
        stream: true,
        messages: [{ role: 'user', content: 'a long enough prompt to stream several deltas' }],
      }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^event: message_start/);
    expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(text).not.toMatch(/event: message_stop/);

    const client = await h.client(['engineering']);
    const stream = client.messages.stream({
      ...body,
      messages: [{ role: 'user', content: 'a long enough prompt to stream several deltas' }],
    } as never);
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError);
  });

  it('an upstream that goes silent mid-stream ends with an error event after bodyTimeoutMs', async () => {
    h.upstream.setFault({ kind: 'stall-after-events', events: 2 });
    const res = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.token(['engineering'])}`,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ...body, stream: true }),
    });
    const text = await res.text();
    expect(text).toMatch(/event: error\ndata: .*timed out/);
  });
});
