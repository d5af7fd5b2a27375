/**
 * Response masking beyond text: what server tools bring back (fetched pages, code output, search
 * results) and what an answer cites reach the caller masked, on JSON and on streams alike, while
 * the parts the API wants back byte for byte (signatures, encrypted results, base64 documents,
 * ids) are never touched, even when a detector would match inside them.
 */
import { describe, expect, it } from 'vitest';
import { buildDetectorKit } from '../../../gateway/inspect/detector-kit.ts';
import { MaskPlan } from '../../../gateway/mask/mask-plan.ts';
import { hasUnmaskedStrings, maskResponseBody } from '../../../gateway/mask/mask-response.ts';
import { SseStreamMasker } from '../../../gateway/relay/sse-stream-masker.ts';
import type { MaskDirective } from '../../../gateway/policy/decision.ts';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';
import { formatSseEvent } from '../../../gateway/relay/sse-writer.ts';

const kit = buildDetectorKit({});
// Look-alike test values (right shape, not real credentials).
const AWS_KEY = 'AKIAQWERTYUI2345ABCD';
const EMAIL = 'jane.roe@example.org';
// Opaque fields that happen to contain a key-shaped run: masking them would break the next turn.
const OPAQUE = `Zm9v${AWS_KEY}YmFy`;
const PLAN: MaskDirective = { request: ['EMAIL'], response: ['AWS_ACCESS_KEY'], style: 'placeholder', restore: true };

/** A plan whose prompt already had EMAIL masked (so [EMAIL_1] is restorable), as the request stage leaves it. */
function planWithMaskedPrompt(): MaskPlan {
  const plan = new MaskPlan(kit, PLAN, Buffer.alloc(32));
  expect(plan.replacer.replace('EMAIL', EMAIL)).toBe('[EMAIL_1]');
  plan.replacer.sealRequest();
  return plan;
}

/** A Message with one block of every server-tool kind, each carrying the key in a visible and an opaque field. */
function messageWithServerTools(): { content: unknown[] } {
  return {
    content: [
      { type: 'redacted_thinking', data: OPAQUE },
      {
        type: 'server_tool_use',
        id: 'srvtoolu_1',
        name: 'web_fetch',
        input: { url: `https://example.com/?k=${AWS_KEY}` },
      },
      {
        type: 'web_fetch_tool_result',
        tool_use_id: 'srvtoolu_1',
        content: {
          type: 'web_fetch_result',
          url: 'https://example.com/',
          retrieved_at: '2026-11-01T00:00:00Z',
          content: {
            type: 'document',
            title: 'Config',
            citations: null,
            source: { type: 'text', media_type: 'text/plain', data: `the config holds ${AWS_KEY} today` },
          },
        },
      },
      {
        type: 'web_fetch_tool_result',
        tool_use_id: 'srvtoolu_2',
        content: {
          type: 'web_fetch_result',
          url: 'https://example.com/a.pdf',
          retrieved_at: null,
          content: {
            type: 'document',
            title: null,
            citations: null,
            source: { type: 'base64', media_type: 'application/pdf', data: OPAQUE },
          },
        },
      },
      {
        type: 'code_execution_tool_result',
        tool_use_id: 'srvtoolu_3',
        content: {
          type: 'code_execution_result',
          stdout: `found ${AWS_KEY}\n`,
          stderr: '',
          return_code: 0,
          content: [],
        },
      },
      {
        type: 'encrypted_code_execution_result',
        encrypted_stdout: OPAQUE,
        stderr: `warn ${AWS_KEY}`,
        return_code: 0,
        content: [],
      },
      {
        type: 'web_search_tool_result',
        tool_use_id: 'srvtoolu_4',
        content: [
          {
            type: 'web_search_result',
            url: 'https://example.com/s',
            title: `Leaked ${AWS_KEY}`,
            encrypted_content: OPAQUE,
            page_age: null,
          },
        ],
      },
      {
        type: 'text',
        text: 'See the page.',
        citations: [
          {
            type: 'web_search_result_location',
            url: 'https://example.com/s',
            title: 'Leaked',
            encrypted_index: OPAQUE,
            cited_text: `key ${AWS_KEY} for [EMAIL_1]`,
          },
        ],
      },
    ],
  };
}

/** What every block must look like for the caller: visible strings masked ([EMAIL_1] restored), opaque ones as sent. */
function expectMaskedForCaller(content: unknown[]): void {
  // The blocks in messageWithServerTools() order, typed as far as the checks below read them.
  const [redacted, call, page, pdf, code, encrypted, search, text] = content as [
    unknown,
    { input: { url: string } },
    { tool_use_id: string; content: { content: { source: { data: string } } } },
    { content: { content: { source: unknown } } },
    { content: { stdout: string } },
    unknown,
    { content: unknown[] },
    { citations: unknown[] },
  ];
  expect(redacted).toEqual({ type: 'redacted_thinking', data: OPAQUE });
  expect(call.input.url).toBe('https://example.com/?k=[AWS_ACCESS_KEY_1]');
  expect(page.content.content.source.data).toBe('the config holds [AWS_ACCESS_KEY_1] today');
  expect(page.tool_use_id).toBe('srvtoolu_1');
  expect(pdf.content.content.source).toEqual({ type: 'base64', media_type: 'application/pdf', data: OPAQUE });
  expect(code.content.stdout).toBe('found [AWS_ACCESS_KEY_1]\n');
  expect(encrypted).toMatchObject({ encrypted_stdout: OPAQUE, stderr: 'warn [AWS_ACCESS_KEY_1]' });
  expect(search.content[0]).toEqual({
    type: 'web_search_result',
    url: 'https://example.com/s',
    title: 'Leaked [AWS_ACCESS_KEY_1]',
    encrypted_content: OPAQUE,
    page_age: null,
  });
  expect(text.citations[0]).toEqual({
    type: 'web_search_result_location',
    url: 'https://example.com/s',
    title: 'Leaked',
    encrypted_index: OPAQUE,
    cited_text: `key [AWS_ACCESS_KEY_1] for ${EMAIL}`,
  });
}

describe('response masking of server tool results and citations', () => {
  it('masks every visible string of a JSON answer for the caller and the record, never an opaque one', () => {
    const plan = planWithMaskedPrompt();
    const body = messageWithServerTools();
    const { masked, client, entitiesLeft } = maskResponseBody(body, plan);
    expectMaskedForCaller((client as { content: unknown[] }).content);
    // The record keeps placeholders (restoring is for the caller only).
    expect(JSON.stringify(masked)).toContain('for [EMAIL_1]');
    expect(JSON.stringify(masked).split(AWS_KEY).length - 1).toBe(5); // the five opaque copies only
    // Opaque strings were not scanned, so the audit must still redact the record.
    expect(entitiesLeft).toBe(true);
    expect(hasUnmaskedStrings(body)).toBe(true);
    expect(plan.ledger.entries().map((e) => e.path)).toEqual([
      'response.content[1].input.url',
      'response.content[2].content.content.source.data',
      'response.content[4].content.stdout',
      'response.content[5].stderr',
      'response.content[6].content[0].title',
      'response.content[7].citations[0].cited_text',
    ]);
  });

  it(
    'masks the same on a stream: blocks that arrive whole in content_block_start, ' + 'and citations_delta citations',
    () => {
      const plan = planWithMaskedPrompt();
      const message = messageWithServerTools();
      const events = [
        formatSseEvent('message_start', {
          type: 'message_start',
          message: {
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: 'm',
            content: [],
            stop_reason: null,
            usage: { input_tokens: 5, output_tokens: 1 },
          },
        }),
      ];
      message.content.forEach((block, index) => {
        const b = block as Record<string, unknown>;
        if (b.type === 'text') {
          events.push(
            formatSseEvent('content_block_start', {
              type: 'content_block_start',
              index,
              content_block: { type: 'text', text: '' },
            }),
          );
          for (const citation of b.citations as unknown[])
            events.push(
              formatSseEvent('content_block_delta', {
                type: 'content_block_delta',
                index,
                delta: { type: 'citations_delta', citation },
              }),
            );
          events.push(
            formatSseEvent('content_block_delta', {
              type: 'content_block_delta',
              index,
              delta: { type: 'text_delta', text: b.text },
            }),
          );
        } else if (b.type === 'server_tool_use') {
          events.push(
            formatSseEvent('content_block_start', {
              type: 'content_block_start',
              index,
              content_block: { ...b, input: {} },
            }),
          );
          events.push(
            formatSseEvent('content_block_delta', {
              type: 'content_block_delta',
              index,
              delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) },
            }),
          );
        } else {
          events.push(formatSseEvent('content_block_start', { type: 'content_block_start', index, content_block: b }));
        }
        events.push(formatSseEvent('content_block_stop', { type: 'content_block_stop', index }));
      });
      events.push(
        formatSseEvent('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: 9 },
        }),
      );
      events.push(formatSseEvent('message_stop', { type: 'message_stop' }));

      const masker = new SseStreamMasker(plan);
      const client = new SseRecorder();
      const record = new SseRecorder();
      for (const out of [masker.push(Buffer.from(events.join(''))), masker.end()]) {
        client.push(Buffer.from(out.client));
        record.push(Buffer.from(out.record));
      }
      client.end();
      record.end();
      expectMaskedForCaller((client.reconstruct() as { content: unknown[] }).content);
      expect(JSON.stringify(record.reconstruct())).toContain('for [EMAIL_1]');
      expect(plan.ledger.entries().map((e) => e.path)).toContain('response.content[7].citations[0].cited_text');
    },
  );
});
