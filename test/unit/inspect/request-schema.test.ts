/**
 * The one schema walk (gateway/inspect/request-schema.ts) over a request with one block of every
 * kind: each model-visible field carries its own e-mail address (or a card number), each opaque
 * field a key-shaped value. The policy text, the entity scan, the masking and the audit redaction
 * must all see every visible field and none of the opaque ones.
 */
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import { buildDetectorKit } from '../../../gateway/inspect/detector-kit.ts';
import { inspectMessagesRequest } from '../../../gateway/inspect/messages-request.ts';
import { scanRequest } from '../../../gateway/inspect/request-entities.ts';
import { BLOCK_FIELDS } from '../../../gateway/inspect/request-schema.ts';
import { redactRequestForAudit } from '../../../gateway/mask/audit-redaction.ts';
import { maskRequest } from '../../../gateway/mask/mask-request.ts';
import { MaskPlan } from '../../../gateway/mask/mask-plan.ts';
import { SessionNumberings } from '../../../gateway/mask/placeholder-numbering.ts';

const kit = buildDetectorKit({});
// A look-alike key (right shape, not a real key): it must stay untouched wherever it is opaque.
const KEY = `sk-ant-api03-${'Zx9'.repeat(30)}Q7`;
const CARD = '4111 1111 1111 1111';
const e = (label: string): string => `${label}.person@example.org`;

/** Every label used below, so the test can check that each visible field was reached. */
const VISIBLE = [
  'system',
  'cited',
  'citedtitle',
  'doctitle',
  'doccontext',
  'docdata',
  'doccontent',
  'srsource',
  'srtitle',
  'srcontent',
  'srcited',
  'toolresult',
  'mcpresult',
  'thinking',
  'text',
  'tooluse',
  'inputkey',
  'srvquery',
  'mcpuse',
  'mcpserver',
  'wstitle',
  'fetched',
  'fetchtitle',
  'stdout',
  'stderr',
  'bashout',
  'editorview',
  'tooldesc',
  'schemadesc',
  'city',
  'outputdesc',
];

const textSource = (data: string) => ({ type: 'text', media_type: 'text/plain', data });
const png = (data: string) => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data } });

function userTurn(): Record<string, unknown> {
  return {
    role: 'user',
    content: [
      png(KEY),
      {
        type: 'document',
        title: e('doctitle'),
        context: e('doccontext'),
        source: textSource(e('docdata')),
        citations: { enabled: true },
      },
      { type: 'document', source: { type: 'content', content: [{ type: 'text', text: e('doccontent') }] } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } },
      { type: 'document', source: { type: 'url', url: 'https://files.example/a.pdf' } },
      { type: 'document', source: { type: 'file', file_id: KEY } },
      {
        type: 'search_result',
        source: e('srsource'),
        title: e('srtitle'),
        content: [
          {
            type: 'text',
            text: e('srcontent'),
            citations: [{ type: 'search_result_location', cited_text: e('srcited'), search_result_index: 0 }],
          },
        ],
        citations: { enabled: true },
      },
      {
        type: 'tool_result',
        tool_use_id: 'toolu_01',
        content: [{ type: 'text', text: e('toolresult') }, png('aGVsbG8=')],
      },
      { type: 'mcp_tool_result', tool_use_id: 'mcptoolu_01', is_error: false, content: e('mcpresult') },
      { type: 'container_upload', file_id: KEY },
    ],
  };
}

function assistantTurn(): Record<string, unknown> {
  const result = (type: string, id: string, content: unknown) => ({ type, tool_use_id: id, content });
  return {
    role: 'assistant',
    content: [
      { type: 'thinking', thinking: e('thinking'), signature: KEY },
      { type: 'redacted_thinking', data: KEY },
      { type: 'text', text: e('text') },
      {
        type: 'tool_use',
        id: 'toolu_01',
        name: 'lookup',
        input: { q: e('tooluse'), nested: [{ deep: CARD }], [e('inputkey')]: 1 },
      },
      { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: { query: e('srvquery') } },
      {
        type: 'mcp_tool_use',
        id: 'mcptoolu_01',
        name: 'search',
        server_name: e('mcpserver'),
        input: { q: e('mcpuse') },
      },
      result('web_search_tool_result', 'srvtoolu_01', [
        {
          type: 'web_search_result',
          url: 'https://a.example/',
          title: e('wstitle'),
          encrypted_content: KEY,
          page_age: 'May 1',
        },
      ]),
      result('web_fetch_tool_result', 'srvtoolu_02', {
        type: 'web_fetch_result',
        url: 'https://b.example/',
        retrieved_at: '2026-01-01T00:00:00Z',
        content: { type: 'document', title: e('fetchtitle'), source: textSource(e('fetched')) },
      }),
      result('code_execution_tool_result', 'srvtoolu_03', {
        type: 'code_execution_result',
        stdout: e('stdout'),
        stderr: e('stderr'),
        return_code: 0,
        encrypted_stdout: KEY,
        content: [{ type: 'code_execution_output', file_id: KEY }],
      }),
      result('bash_code_execution_tool_result', 'srvtoolu_04', {
        type: 'bash_code_execution_result',
        stdout: e('bashout'),
        stderr: '',
        return_code: 0,
        content: [],
      }),
      result('text_editor_code_execution_tool_result', 'srvtoolu_05', {
        type: 'text_editor_code_execution_view_result',
        file_type: 'text',
        content: e('editorview'),
      }),
    ],
  };
}

function everyBlock(): Record<string, unknown> {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 100,
    system: [
      {
        type: 'text',
        text: e('system'),
        cache_control: { type: 'ephemeral' },
        citations: [
          {
            type: 'char_location',
            cited_text: e('cited'),
            document_title: e('citedtitle'),
            document_index: 0,
            start_char_index: 0,
            end_char_index: 1,
          },
        ],
      },
    ],
    messages: [userTurn(), assistantTurn()],
    output_format: { type: 'json_schema', schema: { type: 'object', description: e('outputdesc') } },
    tools: [
      {
        name: 'lookup',
        description: e('tooldesc'),
        input_schema: { type: 'object', properties: { q: { type: 'string', description: e('schemadesc') } } },
      },
      { type: 'web_search_20250305', name: 'web_search', user_location: { type: 'approximate', city: e('city') } },
    ],
  };
}

function refusal(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw err;
  }
  throw new Error('expected a SluiceError');
}

describe('the request schema walk', () => {
  it('the fixture covers every block type the schema describes', () => {
    const types = new Set(
      JSON.stringify(everyBlock())
        .match(/"type":"[a-z_]+"/g)!
        .map((t) => t.slice(8, -1)),
    );
    for (const type of Object.keys(BLOCK_FIELDS)) expect(types, type).toContain(type);
  });

  it('the policy text holds every visible field and no opaque one', () => {
    const facts = inspectMessagesRequest('messages.create', everyBlock(), []);
    for (const label of VISIBLE) expect(facts.text, label).toContain(e(label));
    expect(facts.text).toContain(CARD);
    expect(facts.text).not.toContain('Zx9Zx9');
    // Two images (one inside a tool_result), three non-text documents; bytes of the base64 payloads.
    expect(facts.media).toEqual({ images: 2, documents: 3, bytes: Buffer.byteLength(KEY, 'base64') + 9 + 5 });
  });

  it('the entity scan finds every visible field, and no key in an opaque one', () => {
    // The key would be found if it were scanned.
    expect(kit.detector.scan(KEY).map((m) => m.type)).toEqual(['ANTHROPIC_API_KEY']);
    const scan = scanRequest(everyBlock(), kit.detector);
    const found = scan.places.map((p) => (p.isKey ? p.key : (p.holder as Record<string | number, string>)[p.key]));
    for (const label of VISIBLE) expect(found, label).toContain(e(label));
    expect(scan.findings).toEqual({ EMAIL: VISIBLE.length, CREDIT_CARD: 1 });
    // Paths name where the value was, never the value (a key name that is an e-mail address shows as its type).
    expect(scan.details.map((d) => d.path)).toContain('messages[1].content[3].input["[EMAIL]"]');
    expect(JSON.stringify(scan.details)).not.toContain('@example.org');
  });

  it('masking rewrites every visible place, keys included, and leaves opaque fields byte for byte', () => {
    const body = everyBlock();
    const scan = scanRequest(body, kit.detector);
    const directive = {
      request: ['EMAIL', 'CREDIT_CARD'],
      response: [],
      style: 'placeholder' as const,
      restore: false,
    };
    const plan = new MaskPlan(kit, directive, Buffer.alloc(32), new SessionNumberings(Buffer.alloc(32)).for(undefined));
    expect(maskRequest(scan, plan)).toBe(true);
    const sent = JSON.stringify(body);
    expect(sent).not.toContain('@example.org');
    expect(sent).not.toContain('4111');
    expect(sent.split(KEY).length - 1).toBe(JSON.stringify(everyBlock()).split(KEY).length - 1);
    type Turn = { content: Array<{ input?: Record<string, unknown> }> };
    const toolUse = (body.messages as Turn[])[1]!.content[3]!.input!;
    expect(Object.keys(toolUse)).toEqual(['q', 'nested', expect.stringMatching(/^\[EMAIL_\d+\]$/)]);
    expect(toolUse.nested).toEqual([{ deep: '[CREDIT_CARD_1]' }]);
  });

  it('the audit copy holds no visible entity value, and opaque fields as they were', () => {
    const audited = JSON.stringify(redactRequestForAudit(everyBlock(), kit));
    expect(audited).not.toContain('@example.org');
    expect(audited).toContain('[EMAIL]');
    expect(audited).toContain(KEY);
  });

  it('refuses an unknown block type by default, naming its path and type', () => {
    const turn = (content: unknown[]) => [{ role: 'user', content }];
    const hologram = { type: 'hologram', words: e('unknown') };
    const body = { model: 'm', max_tokens: 1, messages: turn([{ type: 'text', text: 'hi' }, hologram]) };
    const err = refusal(() => inspectMessagesRequest('messages.create', body, []));
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.message).toMatch(/^messages\[0\]\.content\[1\]: content block type "hologram" is not known/);
    // Nested in a tool result too.
    const inResult = { type: 'tool_result', tool_use_id: 't', content: [{ type: 'hologram' }] };
    const nested = { ...body, messages: turn([inResult]) };
    const deep = refusal(() => inspectMessagesRequest('messages.create', nested, []));
    expect(deep.message).toMatch(/^messages\[0\]\.content\[0\]\.content\[0\]: .*"hologram"/);
  });

  it('with unknownBlocks scan, every string of an unknown block is read and scanned', () => {
    const hologram = { type: 'hologram', words: { deep: [e('unknown')] } };
    const body = { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [hologram] }] };
    const facts = inspectMessagesRequest('messages.create', body, [], 'scan');
    expect(facts.text).toContain(e('unknown'));
    expect(scanRequest(body, kit.detector).findings).toEqual({ EMAIL: 1 });
  });

  it('refuses a known field of the wrong shape rather than skipping it', () => {
    const refused = (block: unknown): string => {
      const body = { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [block] }] };
      return refusal(() => inspectMessagesRequest('messages.create', body, [])).message;
    };
    const thinking = { type: 'thinking', thinking: { t: 'x' }, signature: 's' };
    expect(refused(thinking)).toMatch(/content\[0\]\.thinking: expected a string/);
    const flatResult = { type: 'search_result', source: 's', title: 't', content: 'x' };
    expect(refused(flatResult)).toMatch(/content\[0\]\.content: expected/);
  });

  it('reads mcp_servers, tool_choice, container and mcp_toolset entries into the facts', () => {
    const facts = inspectMessagesRequest(
      'messages.create',
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'hi' }],
        mcp_servers: [
          {
            type: 'url',
            name: 'wiki',
            url: 'https://mcp.wiki.example.com/sse',
            authorization_token: KEY,
            tool_configuration: { allowed_tools: ['search'], enabled: true },
          },
          { type: 'url', name: 'crm', url: 'https://crm.example/sse' },
          { type: 'url', name: 'docs', url: 'https://docs.example/sse' },
        ],
        tools: [
          {
            type: 'mcp_toolset',
            mcp_server_name: 'docs',
            default_config: { enabled: false },
            configs: { read: { enabled: true }, write: { enabled: false } },
          },
          { type: 'code_execution_20250825', name: 'bash' },
        ],
        tool_choice: { type: 'tool', name: 'bash' },
        container: 'container_01',
      },
      [],
    );
    expect(facts.mcpServers).toEqual([
      { name: 'wiki', url: 'https://mcp.wiki.example.com/sse', allowed_tools: ['search'], enabled: true },
      { name: 'crm', url: 'https://crm.example/sse', allowed_tools: null, enabled: true },
      { name: 'docs', url: 'https://docs.example/sse', allowed_tools: ['read'], enabled: true },
    ]);
    expect(facts.tools).toEqual([
      { name: 'docs', type: 'mcp_toolset', family: 'mcp_toolset' },
      { name: 'bash', type: 'code_execution_20250825', family: 'code_execution' },
    ]);
    expect(facts.toolChoice).toEqual({ type: 'tool', name: 'bash' });
    expect(facts.container).toEqual({ id: 'container_01' });
    expect(JSON.stringify(facts)).not.toContain('Zx9Zx9');
  });
});
