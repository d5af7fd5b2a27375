/** The official SDK, unchanged, drives Sluice: JSON and SSE calls, token counting, models. */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const MODEL = 'claude-sonnet-4-6';

describe('the SDK through Sluice', () => {
  it('messages.create reaches the upstream with the connection credential, never the caller token', async () => {
    const client = await h.client(['engineering']);
    const before = h.upstream.requests.length;
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 128,
      messages: [{ role: 'user', content: 'Hello there' }],
    });
    expect(msg.type).toBe('message');
    expect(msg.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Hello there') });
    const seen = h.upstream.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-api-key']).toBe(h.upstreamKey);
    expect(seen[0]!.headers['authorization']).toBeUndefined();
    expect(seen[0]!.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('messages.stream() relays the SSE event sequence and finalMessage() is whole', async () => {
    const client = await h.client(['engineering']);
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 128,
      messages: [{ role: 'user', content: 'stream me a reply please' }],
    });
    const kinds: string[] = [];
    stream.on('streamEvent', (event) => kinds.push(event.type));
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('stream me a reply please') });
    expect(kinds[0]).toBe('message_start');
    expect(kinds).toContain('content_block_delta');
    expect(kinds.at(-1)).toBe('message_stop');
    expect(kinds.filter((k) => k === 'content_block_delta').length).toBeGreaterThan(1);
  });

  it('messages.countTokens and models.list / models.retrieve pass policy and return the upstream answer', async () => {
    const client = await h.client(['ci']);
    const count = await client.messages.countTokens({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'count these words' }],
    });
    expect(count.input_tokens).toBeGreaterThan(0);
    const page = await client.models.list({ limit: 2 });
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data.length).toBeLessThanOrEqual(2);
    const one = await client.models.retrieve(page.data[0]!.id);
    expect(one.id).toBe(page.data[0]!.id);
  });

  it('anthropic-beta passes through and Agent Skills in container.skills are understood (allowed skill)', async () => {
    const client = await h.client(['engineering']);
    const before = h.upstream.requests.length;
    const msg = await client.beta.messages.create({
      model: MODEL,
      max_tokens: 128,
      betas: ['skills-2025-10-02', 'code-execution-2025-08-25'],
      container: { skills: [{ type: 'anthropic', skill_id: 'xlsx', version: 'latest' }] },
      messages: [{ role: 'user', content: 'make a spreadsheet' }],
    });
    expect(msg.type).toBe('message');
    const seen = h.upstream.requests.slice(before);
    expect(seen[0]!.headers['anthropic-beta']).toBe('skills-2025-10-02,code-execution-2025-08-25');
    expect((seen[0]!.body as { container: unknown }).container).toEqual({
      skills: [{ type: 'anthropic', skill_id: 'xlsx', version: 'latest' }],
    });
  });

  it('tool use streams input_json_delta through Sluice intact', async () => {
    const client = await h.client(['engineering']);
    const final = await client.messages
      .stream({
        model: MODEL,
        max_tokens: 256,
        tools: [
          {
            name: 'get_weather',
            description: 'weather',
            input_schema: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ],
        messages: [{ role: 'user', content: 'please use tool get_weather for Paris' }],
      })
      .finalMessage();
    const toolUse = final.content.find((b) => b.type === 'tool_use');
    expect(toolUse).toBeDefined();
    expect(final.stop_reason).toBe('tool_use');
  });

  it('a named connection is reached under /c/{name}; an unknown one is a 404 in Anthropic shape', async () => {
    const token = await h.token(['admins']);
    const named = new Anthropic({ baseURL: `${h.url}/c/secondary`, authToken: token, apiKey: null, maxRetries: 0 });
    const msg = await named.messages.create({
      model: MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.type).toBe('message');
    // Every operation keeps its own name under the prefix: the policy and the audit see models.get, not a default.
    const models = await named.models.list({ limit: 1 });
    const one = await named.models.retrieve(models.data[0]!.id);
    expect(one.id).toBe(models.data[0]!.id);
    const records = (await h.auditEvents()).filter((e) => e.kind === 'exchange' && e.connection === 'secondary');
    expect(records.map((e) => (e as { operation: string }).operation)).toEqual([
      'messages.create',
      'models.list',
      'models.get',
    ]);
    const unknown = new Anthropic({ baseURL: `${h.url}/c/nope`, authToken: token, apiKey: null, maxRetries: 0 });
    await expect(
      unknown.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it("the token as Authorization or x-api-key; the caller's headers never reach the upstream", async () => {
    const token = await h.token(['engineering']);
    const call = (headers: Record<string, string>) =>
      fetch(`${h.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
          'x-forwarded-host': 'evil.example',
          cookie: 'session=abc',
          ...headers,
        },
        body: JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const transports: Record<string, string>[] = [
      { authorization: `Bearer ${token}` },
      { 'x-api-key': token },
      { authorization: `Bearer ${token}`, 'x-api-key': token },
    ];
    for (const headers of transports) {
      const before = h.upstream.requests.length;
      expect((await call(headers)).status).toBe(200);
      const sent = h.upstream.requests.slice(before)[0]!.headers;
      expect(sent['x-api-key']).toBe(h.upstreamKey);
      expect(sent.authorization).toBeUndefined();
      expect(sent['anthropic-version']).toBe('2023-06-01');
      expect(sent['x-forwarded-host']).toBeUndefined();
      expect(sent['cookie']).toBeUndefined();
    }
    // The official SDK's own apiKey setting (x-api-key) works with a Sluice token too.
    const viaApiKey = new Anthropic({ baseURL: h.url, apiKey: token, maxRetries: 0 });
    expect(
      (await viaApiKey.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }))
        .type,
    ).toBe('message');
  });

  it('refuses two different credentials (400) and a Claude API key (401, saying what to send)', async () => {
    const before = h.upstream.requests.length;
    const body = JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    const base = { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
    const token = await h.token(['engineering']);
    const both = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      headers: { ...base, authorization: `Bearer ${token}`, 'x-api-key': 'another-credential' },
      body,
    });
    expect(both.status).toBe(400);
    expect(JSON.stringify(await both.json())).toContain('Authorization and x-api-key carry different credentials');
    const claudeKey = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      headers: { ...base, 'x-api-key': 'sk-ant-api03-caller-supplied' },
      body,
    });
    expect(claudeKey.status).toBe(401);
    const err = (await claudeKey.json()) as { error: { type: string; message: string } };
    expect(err.error.type).toBe('authentication_error');
    expect(err.error.message).toContain('this is a Claude API key');
    expect(err.error.message).not.toContain('caller-supplied');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('/readyz reports the loaded bundle revision', async () => {
    const res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', bundle: { revision: 'test' } });
  });
});

describe('operations', () => {
  it('/metrics names the active bundle revision in Prometheus text', async () => {
    const res = await fetch(`${h.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^sluice_policy_bundle_info\{revision="test"\} 1$/m);
    expect(Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(10 * 1024 * 1024);
  });
});
