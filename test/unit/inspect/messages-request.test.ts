import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import { buildDetectorKit } from '../../../gateway/inspect/detector-kit.ts';
import { inspectMessagesRequest, parseBetas } from '../../../gateway/inspect/messages-request.ts';
import { scanRequest } from '../../../gateway/inspect/request-entities.ts';

const base = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };

function refusal(body: unknown): SluiceError {
  try {
    inspectMessagesRequest('messages.create', body, []);
  } catch (err) {
    return err as SluiceError;
  }
  throw new Error('expected a refusal');
}

describe('inspectMessagesRequest', () => {
  it('derives model, stream, skills, tools, betas and text', () => {
    const facts = inspectMessagesRequest(
      'messages.create',
      {
        ...base,
        stream: true,
        system: [{ type: 'text', text: 'be brief' }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'first' },
              { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc body' } },
            ],
          },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup', input: { q: 'x' } }] },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'result text' }] }],
          },
        ],
        tools: [
          { name: 'lookup', input_schema: { type: 'object' } },
          { type: 'code_execution_20250825', name: 'code_execution' },
        ],
        container: { skills: [{ type: 'anthropic', skill_id: 'xlsx', version: 'latest' }] },
      },
      parseBetas('skills-2025-10-02, code-execution-2025-08-25'),
    );
    expect(facts).toMatchObject({
      operation: 'messages.create',
      model: 'claude-sonnet-4-5',
      stream: true,
      maxTokens: 100,
    });
    expect(facts.skills).toEqual([{ type: 'anthropic', skill_id: 'xlsx', version: 'latest' }]);
    expect(facts.tools).toEqual([
      { name: 'lookup', type: 'custom', family: 'lookup' },
      { name: 'code_execution', type: 'code_execution_20250825', family: 'code_execution' },
    ]);
    expect(facts.betas).toEqual(['skills-2025-10-02', 'code-execution-2025-08-25']);
    for (const part of ['be brief', 'first', 'doc body', 'q\nx', 'result text']) expect(facts.text).toContain(part);
    expect(facts.estimatedInputTokens).toBeGreaterThan(0);
  });

  it('refuses wrong types with the field name, as the Claude API does', () => {
    expect(refusal({ ...base, max_tokens: '100' }).message).toMatch(/^max_tokens:/);
    expect(refusal({ ...base, model: 7 }).message).toMatch(/^model:/);
    expect(refusal({ ...base, messages: [{ role: 'tool', content: 'x' }] }).message).toMatch(/^messages\.0\.role/);
    expect(refusal({ ...base, stream: 'yes' }).message).toMatch(/^stream:/);
    expect(refusal([base]).status).toBe(400);
    expect(refusal(null).type).toBe('invalid_request_error');
  });

  it('refuses content nested deeper than any real request', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i++) deep = [{ type: 'tool_result', tool_use_id: 't', content: deep }];
    const err = refusal({
      ...base,
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: deep }] }],
    });
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/nested deeper/);
  });

  it('count_tokens needs no max_tokens', () => {
    const facts = inspectMessagesRequest(
      'messages.count_tokens',
      { model: 'm', messages: [{ role: 'user', content: 'hello' }] },
      [],
    );
    expect(facts.operation).toBe('messages.count_tokens');
    expect(facts.maxTokens).toBeUndefined();
  });

  it('accepts a system message mid-conversation (Claude Code sends them) and reads its text', () => {
    const facts = inspectMessagesRequest(
      'messages.create',
      {
        ...base,
        thinking: { type: 'adaptive' },
        messages: [
          { role: 'user', content: 'fix the build' },
          { role: 'system', content: 'the deploy key is in vault://ops/deploy' },
          { role: 'system', content: [{ type: 'text', text: 'second note' }] },
        ],
      },
      [],
    );
    expect(facts.text).toContain('the deploy key is in vault://ops/deploy');
    expect(facts.text).toContain('second note');
    // The entity scan walks the same places: a value in a system message is found (and so masked).
    const mail = {
      ...base,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: 'mail ops@example.com' },
      ],
    };
    expect(scanRequest(mail, buildDetectorKit({}).detector).findings).toEqual({ EMAIL: 1 });
  });

  it('refuses a system message holding anything but text', () => {
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } };
    const err = refusal({
      ...base,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: [image] },
      ],
    });
    expect(err.code).toBe('SLUICE_ERR_BAD_REQUEST');
    expect(err.message).toMatch(/^messages\.1/);
  });
});
