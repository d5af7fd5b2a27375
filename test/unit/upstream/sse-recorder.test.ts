import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';
import { formatSseEvent, sseErrorEvent } from '../../../gateway/relay/sse-writer.ts';

/** A recorded Messages stream with thinking, text (multi-byte characters) and a streamed tool_use. */
const FIXTURE = readFileSync(new URL('../../fixtures/sse/text-and-tool-use.sse', import.meta.url));

const EXPECTED_MESSAGE = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    {
      type: 'thinking',
      thinking: 'The user wants the weather in Zürich; I should call get_weather.',
      signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
    },
    { type: 'text', text: 'Okay, let me check the weather in Zürich ☀️ for you — one moment.' },
    {
      type: 'tool_use',
      id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
      name: 'get_weather',
      input: { location: 'Zürich, CH', unit: 'celsius' },
    },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: {
    input_tokens: 472,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: 89,
    service_tier: 'standard',
  },
};

function record(chunks: Iterable<Uint8Array>, options?: ConstructorParameters<typeof SseRecorder>[0]): SseRecorder {
  const recorder = new SseRecorder(options);
  for (const chunk of chunks) recorder.push(chunk);
  recorder.end();
  return recorder;
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const withoutTiming = (r: SseRecorder) => r.events.map(({ event, data }) => ({ event, data }));

describe('SseRecorder on a recorded stream', () => {
  it('records every event in order with its parsed data', () => {
    const r = record([FIXTURE]);
    expect(r.events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array<string>(3).fill('content_block_delta'),
      'content_block_stop',
      'content_block_start',
      ...Array<string>(3).fill('content_block_delta'),
      'content_block_stop',
      'content_block_start',
      ...Array<string>(4).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(r.events[2]?.data).toEqual({ type: 'ping' });
    expect(r).toMatchObject({ dropped: 0, malformed: 0, oversized: 0, errors: [] });
  });

  it(
    'rebuilds the final Message: thinking + signature, text, tool input parsed at content_block_stop, ' +
      'stop reason and usage',
    () => {
      expect(record([FIXTURE]).reconstruct()).toEqual(EXPECTED_MESSAGE);
    },
  );

  it('joins UTF-8 characters split across chunks (one byte at a time)', () => {
    const r = record([...FIXTURE].map((b) => Uint8Array.of(b)));
    expect(r.reconstruct()).toEqual(EXPECTED_MESSAGE);
  });

  it('stamps each event with milliseconds since the recorder was created', () => {
    let now = 1000;
    const r = new SseRecorder({ now: () => now });
    now = 1012.5;
    r.push(bytes(formatSseEvent('ping', { type: 'ping' })));
    now = 1040;
    r.push(bytes(formatSseEvent('ping', { type: 'ping' })));
    expect(r.events.map((e) => e.at_ms)).toEqual([12.5, 40]);
  });
});

describe('SseRecorder on broken or hostile streams', () => {
  it('collects error events and counts data that is not JSON, keeping its raw text', () => {
    const r = record([
      bytes(formatSseEvent('message_start', { type: 'message_start', message: { id: 'm', content: [], usage: {} } })),
      bytes('event: content_block_delta\ndata: {not json\n\n'),
      bytes(sseErrorEvent('overloaded_error', 'Overloaded')),
    ]);
    expect(r.malformed).toBe(1);
    expect(r.events[1]).toMatchObject({ event: 'content_block_delta', data: '{not json' });
    expect(r.errors).toEqual([{ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]);
    expect(r.reconstruct()).toEqual({ id: 'm', content: [], usage: {} });
  });

  it('caps stored events at maxEvents, counts the rest as dropped, and still reconstructs from all of them', () => {
    const r = record([FIXTURE], { maxEvents: 3 });
    expect(r.events).toHaveLength(3);
    expect(r.dropped).toBe(17);
    expect(r.reconstruct()).toEqual(EXPECTED_MESSAGE);
  });

  it('returns undefined without message_start, and ignores deltas before it', () => {
    const r = record([
      bytes(
        formatSseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: 'x' },
        }),
      ),
    ]);
    expect(r.reconstruct()).toBeUndefined();
  });

  it('drops an event cut off by the end of the stream, and keeps unfinished tool JSON verbatim', () => {
    const text = FIXTURE.toString('utf8');
    const cut = text.indexOf(
      'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":", ',
    );
    const r = record([bytes(text.slice(0, cut + 40))]);
    expect(r.events.at(-1)?.event).toBe('content_block_delta');
    const message = r.reconstruct() as typeof EXPECTED_MESSAGE;
    expect(message.stop_reason).toBeNull();
    expect(message.content[2]).toMatchObject({ type: 'tool_use', input: '{"location": "Zürich, CH"' });
  });

  it('discards an event that buffers more than maxEventChars and keeps parsing after it', () => {
    const pieces = [
      'event: content_block_delta\ndata: {"text":"',
      ...Array<string>(10).fill('x'.repeat(500)),
      '"}\n\n',
      formatSseEvent('ping', { type: 'ping' }),
    ];
    const r = record(pieces.map(bytes), { maxEventChars: 1000 });
    expect(r.oversized).toBeGreaterThanOrEqual(1);
    expect(r.events.map((e) => e.event)).toEqual(['ping']);
  });

  it('merges message_delta usage as totals (nulls ignored) and appends citations', () => {
    const events = [
      {
        type: 'message_start',
        message: { id: 'm', content: [], usage: { input_tokens: 5, output_tokens: 1, cache_read_input_tokens: 3 } },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'citations_delta', citation: { type: 'char_location', cited_text: 'c' } },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null, content: 'ignored' },
        usage: { output_tokens: 7, cache_read_input_tokens: null },
      },
    ];
    const r = record(events.map((e) => bytes(formatSseEvent(e.type, e))));
    expect(r.reconstruct()).toEqual({
      id: 'm',
      content: [{ type: 'text', text: 'hi', citations: [{ type: 'char_location', cited_text: 'c' }] }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 5, output_tokens: 7, cache_read_input_tokens: 3 },
    });
  });

  it('cannot be used to pollute Object.prototype', () => {
    const r = new SseRecorder();
    r.push(
      bytes(
        'event: message_start\ndata: {"type":"message_start","message":{"__proto__":{"polluted":1},"content":[]}}\n\n',
      ),
    );
    r.push(
      bytes(
        'event: message_delta\ndata: {"type":"message_delta",' +
          '"delta":{"__proto__":{"polluted":2}},"usage":{"__proto__":{"polluted":3}}}\n\n',
      ),
    );
    r.end();
    expect(r.reconstruct()).toBeDefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('SseRecorder properties', () => {
  const baseline = record([FIXTURE]);

  it('any chunking of a recorded stream yields the same events and the same reconstruction', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: FIXTURE.length - 1 }), { maxLength: 60 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), FIXTURE.length];
        const r = record(points.slice(1).map((end, i) => FIXTURE.subarray(points[i], end)));
        expect(withoutTiming(r)).toEqual(withoutTiming(baseline));
        expect(r.reconstruct()).toEqual(EXPECTED_MESSAGE);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
        const r = record(chunks, { maxEventChars: 256 });
        r.reconstruct();
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on well-framed events carrying arbitrary or near-valid Messages data', () => {
    const type = fc.constantFrom(
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
      'error',
      'ping',
    );
    const deltaType = fc.constantFrom(
      'text_delta',
      'input_json_delta',
      'thinking_delta',
      'signature_delta',
      'citations_delta',
      'other',
    );
    const blockType = fc.constantFrom('text', 'tool_use', 'server_tool_use', 'thinking', 'redacted_thinking');
    const data = fc.oneof(
      fc.jsonValue(),
      fc.record({
        type,
        index: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.jsonValue()),
        message: fc.oneof(
          fc.record({ id: fc.string(), content: fc.oneof(fc.constant([]), fc.jsonValue()), usage: fc.jsonValue() }),
          fc.jsonValue(),
        ),
        content_block: fc.oneof(
          fc.record({ type: blockType, text: fc.jsonValue(), input: fc.jsonValue() }),
          fc.jsonValue(),
        ),
        delta: fc.oneof(
          fc.record({
            type: deltaType,
            text: fc.jsonValue(),
            partial_json: fc.oneof(fc.string(), fc.jsonValue()),
            thinking: fc.jsonValue(),
            signature: fc.jsonValue(),
            stop_reason: fc.jsonValue(),
          }),
          fc.jsonValue(),
        ),
        usage: fc.jsonValue(),
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(type, data), { maxLength: 30 }), (events) => {
        const r = record([bytes(events.map(([name, d]) => formatSseEvent(name, d)).join(''))]);
        expect(r.events).toHaveLength(events.length);
        JSON.stringify(r.reconstruct());
      }),
      { numRuns: 500 },
    );
  });
});

describe('SseRecorder with keepData: false (the relay)', () => {
  it('keeps event names and timing but not their data, and still rebuilds the message', () => {
    const r = record([FIXTURE], { keepData: false });
    expect(r.events.length).toBeGreaterThan(5);
    expect(r.events.every((e) => e.data === undefined && typeof e.at_ms === 'number')).toBe(true);
    expect(r.events[0]!.event).toBe('message_start');
    expect(r.reconstruct()).toEqual(EXPECTED_MESSAGE);
  });
});
