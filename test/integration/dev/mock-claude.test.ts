/** mock-claude driven by the official SDK: for what Sluice relies on it must be indistinguishable from the API. */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ECHO_PREFIX, MOCK_MODELS } from '../../../gateway/dev/mock-claude.ts';
import { MOCK_SEARCH_URL } from '../../../gateway/dev/mock-claude-responses.ts';
import { API_KEY, ask, MODEL, recorded, tappedClient, useMockClaude, wire } from './sdk-tap.ts';

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['city', 'unit'],
  },
};

const mockClaude = useMockClaude();
const client = mockClaude.client;

describe('mock-claude: Messages API', () => {
  it('messages.create returns a real Message echoing the last user text, with a request-id', async () => {
    const { data, response } = await client().messages.create(ask('Hello there')).withResponse();
    expect(data).toEqual({
      id: expect.stringMatching(/^msg_01\w{22}$/),
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [{ type: 'text', text: `${ECHO_PREFIX}Hello there` }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    expect(response.headers.get('request-id')).toMatch(/^req_01/);
    const seen = mockClaude.mock.requests.at(-1)!;
    expect(seen).toMatchObject({ method: 'POST', path: '/v1/messages', body: ask('Hello there') });
    // This SDK version sends the API key as a bearer token; the API (and the mock) accept either header.
    expect(seen.headers['x-api-key'] ?? seen.headers.authorization).toMatch(new RegExp(`^(Bearer )?${API_KEY}$`));
  });

  it(
    'messages.stream() emits the real event sequence, ' +
      'and finalMessage() equals the recorder reconstruction of the raw stream',
    async () => {
      const { client: c, raw } = tappedClient(mockClaude.mock.url);
      const stream = c.messages.stream(ask('stream me a reply, please — ünïcødé 🌍'));
      const final = await stream.finalMessage();
      const recorder = recorded(await raw());
      expect(recorder.reconstruct()).toEqual(wire(final));
      expect(final.content).toEqual([{ type: 'text', text: `${ECHO_PREFIX}stream me a reply, please — ünïcødé 🌍` }]);
      const names = recorder.events.map((e) => e.event);
      const deltas = names.filter((n) => n === 'content_block_delta').length;
      expect(deltas).toBeGreaterThan(3);
      expect(names).toEqual([
        'message_start',
        'content_block_start',
        'ping',
        ...Array<string>(deltas).fill('content_block_delta'),
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
      expect(recorder.events[0]?.data).toMatchObject({
        message: { content: [], stop_reason: null, usage: { output_tokens: 1 } },
      });
      expect(recorder.malformed).toBe(0);
    },
  );

  it('stream and non-stream answers to the same request agree (apart from the id)', async () => {
    const once = await client().messages.create(ask('same answer twice'));
    const streamed = await client().messages.stream(ask('same answer twice')).finalMessage();
    expect({ ...(wire(streamed) as object), id: 'x' }).toEqual({ ...once, id: 'x' });
  });

  it('tool use streams the input as input_json_delta and ends with stop_reason tool_use', async () => {
    const { client: c, raw } = tappedClient(mockClaude.mock.url);
    const final = await c.messages
      .stream(ask('please use tool get_weather for Paris', { tools: [WEATHER_TOOL] }))
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    const tool = final.content.find((b) => b.type === 'tool_use');
    expect(tool).toMatchObject({
      type: 'tool_use',
      id: expect.stringMatching(/^toolu_01/),
      name: 'get_weather',
      input: { city: 'mock', unit: 'celsius' },
    });
    const recorder = recorded(await raw());
    expect(recorder.reconstruct()).toEqual(wire(final));
    const jsonDeltas = recorder.events.filter(
      (e) => (e.data as { delta?: { type?: string } }).delta?.type === 'input_json_delta',
    );
    expect(jsonDeltas.length).toBeGreaterThan(2);
    expect(jsonDeltas[0]?.data).toMatchObject({ index: 1, delta: { partial_json: '' } });
    const nonStream = await client().messages.create(
      ask('please use tool get_weather for Paris', { tools: [WEATHER_TOOL] }),
    );
    expect(nonStream.content[1]).toMatchObject({ type: 'tool_use', input: { city: 'mock', unit: 'celsius' } });
  });

  it(
    'web search: the server tool call, its result whole in content_block_start, ' +
      'and the echo citing it through a citations_delta',
    async () => {
      const tools = [{ type: 'web_search_20250305' as const, name: 'web_search' as const, max_uses: 1 }];
      const { client: c, raw } = tappedClient(mockClaude.mock.url);
      const final = await c.messages.stream(ask('latest Node release', { tools })).finalMessage();
      const recorder = recorded(await raw());
      expect(recorder.reconstruct()).toEqual(wire(final));
      const [call, result, text] = final.content;
      expect(call).toEqual({
        type: 'server_tool_use',
        id: expect.stringMatching(/^srvtoolu_01/),
        name: 'web_search',
        input: { query: 'latest Node release' },
      });
      expect(result).toEqual({
        type: 'web_search_tool_result',
        tool_use_id: call?.type === 'server_tool_use' ? call.id : '',
        content: [
          {
            type: 'web_search_result',
            url: MOCK_SEARCH_URL,
            title: 'Search result: latest Node release',
            encrypted_content: expect.stringMatching(/^[A-Za-z0-9+/]{128}$/),
            page_age: 'November 1, 2026',
          },
        ],
      });
      expect(text).toEqual({
        type: 'text',
        text: `${ECHO_PREFIX}latest Node release`,
        citations: [
          {
            type: 'web_search_result_location',
            url: MOCK_SEARCH_URL,
            title: 'Search result: latest Node release',
            encrypted_index: expect.any(String),
            cited_text: 'latest Node release',
          },
        ],
      });
      expect(final.usage.server_tool_use).toEqual({ web_search_requests: 1 });
      const resultStart = recorder.events.find(
        (e) => (e.data as { content_block?: { type?: string } }).content_block?.type === 'web_search_tool_result',
      );
      expect(resultStart?.event).toBe('content_block_start');
      expect(
        recorder.events.some((e) => (e.data as { delta?: { type?: string } }).delta?.type === 'citations_delta'),
      ).toBe(true);
      const once = await client().messages.create(ask('latest Node release', { tools }));
      expect(once.content.map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'text']);
    },
  );

  it('accepts what Claude Code sends: adaptive thinking, effort, context management, system messages', async () => {
    const body = {
      ...ask('fix the build'),
      thinking: { type: 'adaptive' },
      output_config: { effort: 'high' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      messages: [
        { role: 'user' as const, content: 'fix the build' },
        { role: 'system' as const, content: 'agents available: Explore' },
      ],
    };
    const res = await fetch(`${mockClaude.mock.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    const message = (await res.json()) as { content: { type: string }[] };
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text']);
  });

  it(
    'extended thinking: a signed thinking block first, streamed as thinking_delta then signature_delta, ' +
      "and the API's budget checks",
    async () => {
      const thinking = { type: 'enabled' as const, budget_tokens: 1024 };
      const { client: c, raw } = tappedClient(mockClaude.mock.url);
      const final = await c.messages.stream(ask('think about this', { max_tokens: 2048, thinking })).finalMessage();
      expect(final.content[0]).toMatchObject({
        type: 'thinking',
        thinking: '[mock-claude thinking] The user wrote: think about this',
        signature: expect.stringMatching(/^[A-Za-z0-9+/]{40,}={0,2}$/),
      });
      expect(final.content[1]).toMatchObject({ type: 'text', text: `${ECHO_PREFIX}think about this` });
      const recorder = recorded(await raw());
      expect(recorder.reconstruct()).toEqual(wire(final));
      const deltaTypes = recorder.events.flatMap((e) =>
        (e.data as { index?: number; delta?: { type?: string } }).index === 0
          ? [(e.data as { delta?: { type?: string } }).delta?.type]
          : [],
      );
      expect(deltaTypes.filter((t) => t !== undefined)).toEqual([
        ...Array<string>(deltaTypes.filter((t) => t === 'thinking_delta').length).fill('thinking_delta'),
        'signature_delta',
      ]);
      const once = await client().messages.create(ask('think about this', { max_tokens: 2048, thinking }));
      expect(once.content.map((b) => b.type)).toEqual(['thinking', 'text']);
      for (const [override, message] of [
        [{ max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 512 } }, 'greater than or equal to 1024'],
        [{ max_tokens: 1024, thinking }, 'must be greater than `thinking.budget_tokens`'],
      ] as const) {
        const err = await client()
          .messages.create(ask('x', override as never))
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.BadRequestError);
        expect((err as Error).message).toContain(message);
      }
    },
  );

  it('without tools "use tool" is just echoed; a small max_tokens truncates with stop_reason max_tokens', async () => {
    expect((await client().messages.create(ask('use tool please'))).stop_reason).toBe('end_turn');
    const short = await client().messages.create(ask('a fairly long question that will not fit', { max_tokens: 5 }));
    expect(short.stop_reason).toBe('max_tokens');
    expect((short.content[0] as { text: string }).text).toHaveLength(20);
  });

  it('countTokens matches the input_tokens a create reports', async () => {
    const count = await client().messages.countTokens({ model: MODEL, messages: ask('count me').messages });
    const msg = await client().messages.create(ask('count me'));
    expect(count).toEqual({ input_tokens: msg.usage.input_tokens });
  });

  it('models.list pages with limit (the SDK auto-paginates) and models.retrieve finds one or 404s', async () => {
    const page = await client().models.list({ limit: 2 });
    expect(page.data.map((m) => m.id)).toEqual(MOCK_MODELS.slice(0, 2).map((m) => m.id));
    expect(page.has_more).toBe(true);
    const all: string[] = [];
    for await (const model of client().models.list({ limit: 2 })) all.push(model.id);
    expect(all).toEqual(MOCK_MODELS.map((m) => m.id));
    expect(all).toEqual(expect.arrayContaining(['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1']));
    expect(await client().models.retrieve('claude-haiku-4-5')).toMatchObject({
      type: 'model',
      id: 'claude-haiku-4-5',
      display_name: 'Claude Haiku 4.5',
    });
    await expect(client().models.retrieve('claude-nope')).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });
});
