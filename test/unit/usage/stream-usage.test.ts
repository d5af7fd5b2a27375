/**
 * What a stream settles: its final count when it got one; for a stream cut before message_delta,
 * message_start's input plus the output already sent, capped at the output it reserved.
 */
import { describe, expect, it } from 'vitest';
import { streamUsage, type Reservation } from '../../../gateway/usage/budget-stage.ts';

const reservation = (output: number): Reservation => ({
  charges: [],
  model: 'claude-haiku-4-5',
  estimate: { input: 10, output, cacheWrite: 0, cacheRead: 0 },
});
const text = (chars: number) => [{ type: 'text', text: 'x'.repeat(chars) }];

describe('streamUsage', () => {
  it('takes the final count of a stream that ended', () => {
    const message = { stop_reason: 'end_turn', content: text(7000), usage: { input_tokens: 12, output_tokens: 5 } };
    expect(streamUsage(message, reservation(4000))).toEqual({ input: 12, output: 5, cacheWrite: 0, cacheRead: 0 });
  });

  it('counts the output a cut stream already sent, up to the output it reserved', () => {
    const cut = (chars: number) => ({
      stop_reason: null,
      content: text(chars),
      usage: { input_tokens: 12, output_tokens: 1 },
    });
    const sent = streamUsage(cut(700), reservation(4000))!;
    expect(sent.input).toBe(12);
    // 700 characters at 3.5 a token (plus the block's JSON around them).
    expect(sent.output).toBeGreaterThanOrEqual(200);
    expect(sent.output).toBeLessThan(220);
    expect(streamUsage(cut(70_000), reservation(500))!.output).toBe(500);
    expect(streamUsage(cut(0), reservation(500))!.output).toBeGreaterThanOrEqual(1);
  });

  it('leaves a stream without message_start to the estimate', () => {
    expect(streamUsage(undefined, reservation(100))).toBeUndefined();
    expect(streamUsage({ content: [] }, reservation(100))).toBeUndefined();
  });
});
