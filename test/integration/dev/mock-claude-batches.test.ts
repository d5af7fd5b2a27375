/** mock-claude's Message Batches API driven by the official SDK (client.messages.batches). */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECHO_PREFIX, MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { API_KEY, ask, MODEL, sdkClient } from './sdk-tap.ts';

let mock: MockClaude;
// Long enough that a batch is seen in_progress and can be canceled; each test awaits the end as an event.
beforeAll(async () => (mock = await MockClaude.start({ apiKey: API_KEY, batchProcessingMs: 1000 })));
afterAll(async () => mock.close());
const client = () => sdkClient(mock.url);

const requests = [
  { custom_id: 'first', params: ask('hello from request one') },
  { custom_id: 'second-2', params: ask('and request two', { system: 'be brief' }) },
];

describe('mock-claude: Message Batches API', () => {
  it('create → in_progress; ends on its own; results are the echo per custom_id as JSONL; then delete', async () => {
    const created = await client().messages.batches.create({ requests });
    expect(created).toEqual({
      type: 'message_batch',
      id: expect.stringMatching(/^msgbatch_01[A-Za-z0-9]{22}$/),
      processing_status: 'in_progress',
      request_counts: { processing: 2, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      created_at: expect.any(String),
      expires_at: expect.any(String),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    });
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600 * 1000);
    const early = await client()
      .messages.batches.delete(created.id)
      .catch((e: unknown) => e);
    expect(early).toBeInstanceOf(Anthropic.BadRequestError);

    await mock.batchEnded(created.id);
    const ended = await client().messages.batches.retrieve(created.id);
    expect(ended).toMatchObject({
      id: created.id,
      processing_status: 'ended',
      request_counts: { processing: 0, succeeded: 2, errored: 0, canceled: 0, expired: 0 },
      ended_at: expect.any(String),
      results_url: `${mock.url}/v1/messages/batches/${created.id}/results`,
    });

    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const line of await client().messages.batches.results(created.id)) results.push(line);
    expect(results.map((r) => r.custom_id)).toEqual(['first', 'second-2']);
    expect(results[1]?.result).toEqual({
      type: 'succeeded',
      message: {
        id: expect.stringMatching(/^msg_01/),
        type: 'message',
        role: 'assistant',
        model: MODEL,
        content: [{ type: 'text', text: `${ECHO_PREFIX}and request two` }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: expect.objectContaining({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) }),
      },
    });
    const raw = await fetch(ended.results_url!, {
      headers: { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
    });
    expect(raw.headers.get('content-type')).toBe('application/x-jsonl');
    const text = await raw.text();
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().split('\n')).toHaveLength(2);

    expect(await client().messages.batches.delete(created.id)).toEqual({
      id: created.id,
      type: 'message_batch_deleted',
    });
    await expect(client().messages.batches.retrieve(created.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it('cancel → canceling, then ended with every request canceled; an ended batch cannot be canceled', async () => {
    const created = await client().messages.batches.create({ requests });
    const canceling = await client().messages.batches.cancel(created.id);
    expect(canceling).toMatchObject({ processing_status: 'canceling', cancel_initiated_at: expect.any(String) });
    await mock.batchEnded(created.id);
    const ended = await client().messages.batches.retrieve(created.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 0, errored: 0, canceled: 2, expired: 0 });
    const results: unknown[] = [];
    for await (const line of await client().messages.batches.results(created.id)) results.push(line);
    expect(results).toEqual([
      { custom_id: 'first', result: { type: 'canceled' } },
      { custom_id: 'second-2', result: { type: 'canceled' } },
    ]);
    await expect(client().messages.batches.cancel(created.id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('list pages newest first (the SDK auto-pages with after_id)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client().messages.batches.create({ requests })).id);
    const page = await client().messages.batches.list({ limit: 2 });
    expect(page.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(page.has_more).toBe(true);
    const all: string[] = [];
    for await (const batch of client().messages.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]]);
  });

  it('validates each request like a messages call, and custom_id like the API', async () => {
    const cases: [unknown, string][] = [
      [{}, 'requests: Field required'],
      [{ requests: [] }, 'requests: List should have at least 1 item'],
      [{ requests: [{ custom_id: 'a', params: { model: MODEL, messages: [] } }] }, 'requests.0.params.max_tokens'],
      [{ requests: [{ custom_id: 'a', params: { ...ask('x'), max_tokens: 0 } }] }, 'requests.0.params.max_tokens'],
      [{ requests: [{ custom_id: 'has space', params: ask('x') }] }, 'requests.0.custom_id'],
      [{ requests: [requests[0], requests[0]] }, 'Duplicate custom_id: first'],
      [{ requests: [{ custom_id: 'a', params: ask('x', { stream: true }) }] }, 'requests.0.params.stream'],
    ];
    for (const [body, message] of cases) {
      const err = await client()
        .messages.batches.create(body as Anthropic.Messages.BatchCreateParams)
        .catch((e: unknown) => e);
      expect(err, message).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain(message);
    }
    await expect(client().messages.batches.retrieve('msgbatch_01nothere')).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(sdkClient(mock.url, { apiKey: 'sk-ant-other' }).messages.batches.list()).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });
});
