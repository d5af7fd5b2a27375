/** mock-claude's refusals and injected faults, as the official SDK sees them. */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it, vi } from 'vitest';
import { MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';
import { API_KEY, ask, recorded, tappedClient, useMockClaude } from './sdk-tap.ts';

const mockClaude = useMockClaude();
const client = mockClaude.client;

describe('mock-claude: refusals like the API', () => {
  it('a wrong API key is a 401 authentication_error', async () => {
    const err = await client({ apiKey: 'sk-wrong' })
      .messages.create(ask('hi'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error', message: 'invalid x-api-key' },
    });
  });

  it('checks the x-api-key header the gateway sends: right key 200, wrong 401, none 401', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${mockClaude.mock.url}/v1/messages`, {
        method: 'POST',
        headers: { 'anthropic-version': '2023-06-01', ...headers },
        body: JSON.stringify(ask('hi')),
      });
    expect((await post({ 'x-api-key': API_KEY })).status).toBe(200);
    const wrong = await post({ 'x-api-key': 'sk-other' });
    expect([wrong.status, ((await wrong.json()) as { error: { type: string } }).error.type]).toEqual([
      401,
      'authentication_error',
    ]);
    const none = await post({});
    expect([none.status, ((await none.json()) as { error: { message: string } }).error.message]).toEqual([
      401,
      'x-api-key header is required',
    ]);
  });

  it('a missing anthropic-version, or a body that is not JSON, is a 400 invalid_request_error', async () => {
    const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
    const noVersion = await fetch(`${mockClaude.mock.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify(ask('hi')),
    });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
      request_id: expect.stringMatching(/^req_/),
    });
    const notJson = await fetch(`${mockClaude.mock.url}/v1/messages`, {
      method: 'POST',
      headers: { ...headers, 'anthropic-version': '2023-06-01' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
  });

  it.each([
    ['max_tokens 0', { max_tokens: 0 }, 'max_tokens'],
    ['max_tokens not an integer', { max_tokens: 1.5 }, 'max_tokens'],
    ['no model', { model: undefined }, 'model'],
    ['empty messages', { messages: [] }, 'messages'],
    ['a bad role', { messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.role'],
  ])('%s is a BadRequestError', async (_name, override, field) => {
    const err = await client()
      .messages.create({ ...ask('hi'), ...override } as never)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toContain(field);
  });
});

describe('mock-claude: faults surface as the SDK error they would be', () => {
  it.each([
    [429, Anthropic.RateLimitError],
    [529, Anthropic.OverloadedError],
    [500, Anthropic.InternalServerError],
    [503, Anthropic.ServiceUnavailableError],
  ] as const)('status %i', async (status, ErrorClass) => {
    mockClaude.mock.setFault({ kind: 'status', status, retryAfter: 3 });
    const err = await client()
      .messages.create(ask('hi'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrorClass);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(status);
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('3');
  });

  it('hang: no headers ever, so the SDK times out', async () => {
    mockClaude.mock.setFault({ kind: 'hang' });
    await expect(client({ timeout: 300 }).messages.create(ask('hi'))).rejects.toBeInstanceOf(
      Anthropic.APIConnectionTimeoutError,
    );
  });

  it('reset-after-events: the connection drops after n events (stream), or mid-body (non-stream)', async () => {
    mockClaude.mock.setFault({ kind: 'reset-after-events', events: 3 });
    const { client: c, raw } = tappedClient(mockClaude.mock.url);
    const err = await c.messages
      .stream(ask('a long enough prompt to stream several deltas'))
      .finalMessage()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AnthropicError);
    expect((err as Error).message).toBe('terminated');
    await expect(raw()).rejects.toThrow('terminated');
    await expect(client().messages.create(ask('hi'))).rejects.toThrow('terminated');
  });

  it('stall-after-events: n events, then silence on an open connection', async () => {
    mockClaude.mock.setFault({ kind: 'stall-after-events', events: 2 });
    const res = await fetch(`${mockClaude.mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(ask('hi', { stream: true })),
      signal: AbortSignal.timeout(1000),
    });
    const reader = res.body!.getReader();
    let text = '';
    // Read the events that do come (each read is awaited), then check that nothing more comes.
    while (!text.includes('event: content_block_start')) {
      const next = await reader.read();
      expect(next.done).toBe(false);
      text += Buffer.from(next.value!).toString('utf8');
    }
    // The sleep is the test: silence on an open connection can only be seen by waiting for it.
    const silence = new Promise<'silent'>((r) => setTimeout(r, 300, 'silent'));
    const more = reader.read().then((next) => (next.done ? 'ended' : Buffer.from(next.value).toString('utf8')));
    expect(await Promise.race([more, silence])).toBe('silent');
    await reader.cancel();
    expect(recorded(Buffer.from(text)).events.map((e) => e.event)).toEqual(['message_start', 'content_block_start']);
  });

  it('malformed-sse: a data line that is not JSON makes the SDK fail the stream', async () => {
    mockClaude.mock.setFault({ kind: 'malformed-sse' });
    const { client: c, raw } = tappedClient(mockClaude.mock.url, { logLevel: 'off' });
    await expect(c.messages.stream(ask('hi')).finalMessage()).rejects.toThrow(/JSON/);
    expect(recorded(await raw()).malformed).toBe(1);
  });

  it('error-event: an overloaded_error event mid-stream is an APIError carrying that type', async () => {
    mockClaude.mock.setFault({ kind: 'error-event' });
    const { client: c, raw } = tappedClient(mockClaude.mock.url);
    const err = await c.messages
      .stream(ask('hi'))
      .finalMessage()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    const recorder = recorded(await raw());
    expect(recorder.errors).toHaveLength(1);
    expect(recorder.events.at(-1)?.event).toBe('error');
  });

  it('garbage: a 200 whose body is not JSON fails the SDK call', async () => {
    mockClaude.mock.setFault({ kind: 'garbage' });
    await expect(client().messages.create(ask('hi'))).rejects.toBeInstanceOf(SyntaxError);
    await expect(client().messages.stream(ask('hi')).finalMessage()).rejects.toThrow(
      'request ended without sending any chunks',
    );
  });

  it('close() ends even with a hung request open', async () => {
    const other = await MockClaude.start({ fault: { kind: 'hang' } });
    const pending = fetch(`${other.url}/v1/models`, {
      headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    }).catch((e: unknown) => e);
    // The mock records a request before it hangs it; nothing else tells the test it arrived.
    await vi.waitFor(() => expect(other.requests).toHaveLength(1), { interval: 10 });
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('mock-claude: as a long-running echo upstream', () => {
  it('accepts any non-empty key when none is configured, and keeps only the last maxRecordedRequests', async () => {
    const echo = await MockClaude.start({ maxRecordedRequests: 2 });
    try {
      for (const path of ['/v1/models', '/v1/models/claude-haiku-4-5', '/v1/models?limit=1']) {
        const res = await fetch(`${echo.url}${path}`, {
          headers: { 'x-api-key': 'anything', 'anthropic-version': '2023-06-01' },
        });
        expect(res.status).toBe(200);
      }
      expect(echo.requests.map((r) => [r.path, r.query])).toEqual([
        ['/v1/models/claude-haiku-4-5', {}],
        ['/v1/models', { limit: '1' }],
      ]);
    } finally {
      await echo.close();
    }
  });
});

describe('mock-claude: pacing', () => {
  it('waits serviceTimeMs before headers and interEventDelayMs between events', async () => {
    const slow = await MockClaude.start({ serviceTimeMs: 60, interEventDelayMs: 15, chunkChars: 4 });
    try {
      const started = Date.now();
      const res = await fetch(`${slow.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'any', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify(ask('pace', { stream: true })),
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
      const recorder = new SseRecorder();
      for await (const chunk of res.body!) recorder.push(chunk);
      recorder.end();
      const span = recorder.events.at(-1)!.at_ms - recorder.events[0]!.at_ms;
      expect(span).toBeGreaterThanOrEqual(15 * (recorder.events.length - 1) * 0.8);
    } finally {
      await slow.close();
    }
  });
});
