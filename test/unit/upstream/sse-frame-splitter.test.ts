import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseFrameSplitter } from '../../../gateway/relay/sse-frame-splitter.ts';

const STREAM =
  'event: message_start\ndata: {"type":"message_start"}\n\n' +
  'event: ping\r\ndata: {"type": "ping"}\r\n\r\n' +
  'event: content_block_delta\ndata: {"text":"héllo ✓"}\n\n' +
  ': comment\n\n' +
  'event: message_stop\ndata: {}';

function split(bytes: Buffer, cuts: number[]): { frames: string[]; rest: string } {
  const splitter = new SseFrameSplitter();
  const frames: string[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    frames.push(...splitter.push(bytes.subarray(from, cut)));
    from = cut;
  }
  frames.push(...splitter.push(bytes.subarray(from)));
  return { frames, rest: splitter.end() };
}

describe('SseFrameSplitter', () => {
  it('yields whole frames with their blank line, for \\n and \\r\\n endings, and keeps an unterminated tail', () => {
    const { frames, rest } = split(Buffer.from(STREAM), []);
    expect(frames).toEqual([
      'event: message_start\ndata: {"type":"message_start"}\n\n',
      'event: ping\r\ndata: {"type": "ping"}\r\n\r\n',
      'event: content_block_delta\ndata: {"text":"héllo ✓"}\n\n',
      ': comment\n\n',
    ]);
    expect(rest).toBe('event: message_stop\ndata: {}');
  });

  it('any chunking, even inside a multi-byte character, gives the same frames and loses no byte', () => {
    const bytes = Buffer.from(STREAM);
    const whole = split(bytes, []);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }), (cuts) => {
        const got = split(bytes, cuts);
        expect(got).toEqual(whole);
        expect(got.frames.join('') + got.rest).toBe(STREAM);
      }),
    );
  });
});
