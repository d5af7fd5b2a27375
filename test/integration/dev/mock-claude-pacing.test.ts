/** mock-claude's deltaIntervalMs: text deltas paced like a model's token rate, for the bench's inter-chunk delay. */
import { describe, expect, it } from 'vitest';
import { MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';
import { ask } from './sdk-tap.ts';

async function streamFrom(mock: MockClaude): Promise<SseRecorder> {
  const res = await fetch(`${mock.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': 'any', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(ask('a sentence long enough for several deltas', { stream: true })),
  });
  const recorder = new SseRecorder();
  for await (const chunk of res.body!) recorder.push(chunk);
  recorder.end();
  return recorder;
}

const shape = (recorder: SseRecorder) =>
  recorder.events.map((e) => [e.event, e.event === 'content_block_delta' ? e.data : undefined]);

describe('mock-claude: delta pacing', () => {
  it(
    'spaces consecutive content_block_delta events by deltaIntervalMs ' + 'and sends the same events as unpaced',
    async () => {
      const interval = 25;
      const paced = await MockClaude.start({ deltaIntervalMs: interval, chunkChars: 8 });
      const unpaced = await MockClaude.start({ chunkChars: 8 });
      try {
        const recorder = await streamFrom(paced);
        const deltas = recorder.events.filter((e) => e.event === 'content_block_delta');
        expect(deltas.length).toBeGreaterThan(3);
        // A lower bound only (a late first delta can shorten one gap, hence the margin): pacing must not vanish.
        expect(deltas.at(-1)!.at_ms - deltas[0]!.at_ms).toBeGreaterThanOrEqual(interval * (deltas.length - 1) * 0.8);
        expect(shape(recorder)).toEqual(shape(await streamFrom(unpaced)));
      } finally {
        await Promise.all([paced.close(), unpaced.close()]);
      }
    },
  );
});
