import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatSseEvent, sseErrorEvent } from '../../../gateway/relay/sse-writer.ts';

/** Parses SSE text with the same library the gateway uses, to check frames round-trip. */
function parse(text: string): EventSourceMessage[] {
  const out: EventSourceMessage[] = [];
  createParser({ onEvent: (e) => out.push(e) }).feed(text);
  return out;
}

describe('formatSseEvent', () => {
  it('frames one event the way the Anthropic API does', () => {
    expect(formatSseEvent('message_stop', { type: 'message_stop' })).toBe(
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
  });

  it('keeps line breaks inside data escaped, so a value cannot add SSE fields or events', () => {
    const frame = formatSseEvent('content_block_delta', { text: 'a\n\nevent: error\ndata: {}\r\n' });
    expect(frame.split('\n')).toHaveLength(4);
    expect(parse(frame)).toEqual([
      {
        event: 'content_block_delta',
        id: undefined,
        data: JSON.stringify({ text: 'a\n\nevent: error\ndata: {}\r\n' }),
      },
    ]);
  });

  it('strips line breaks from the event name', () => {
    expect(formatSseEvent('ping\n\ndata: x', {})).toBe('event: pingdata: x\ndata: {}\n\n');
  });

  it('writes null for undefined data rather than an empty data line', () => {
    expect(formatSseEvent('x', undefined)).toBe('event: x\ndata: null\n\n');
  });

  it('round-trips any JSON value and event name through a real SSE parser', () => {
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), (name, value) => {
        const [event] = parse(formatSseEvent(name, value));
        expect(event?.event ?? '').toBe(name.replace(/[\r\n]/g, ''));
        expect(JSON.parse(event!.data)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('sseErrorEvent', () => {
  it("is Anthropic's mid-stream error frame", () => {
    expect(sseErrorEvent('overloaded_error', 'Overloaded')).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    );
  });

  it('escapes the message', () => {
    const [event] = parse(sseErrorEvent('api_error', 'upstream "x"\nfailed'));
    expect(event?.event).toBe('error');
    expect(JSON.parse(event!.data)).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'upstream "x"\nfailed' },
    });
  });
});
