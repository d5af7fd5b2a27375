import { randomBytes } from 'node:crypto';

/**
 * What mock-claude answers: a deterministic echo of the last user message as a real Messages
 * API `Message`, and the exact SSE event sequence the API streams for that same message, so
 * stream and non-stream replies always agree. With the web search server tool offered, the mock
 * searches first: its one result restates the query, and the echo cites it.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every mock answer starts with this label, so an echo can never be mistaken for Claude. */
export const ECHO_PREFIX = '[echo from mock-claude] ';

/** A Messages API response body as the mock produces it. */
export interface MockMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: MockBlock[];
  stop_reason: 'end_turn' | 'max_tokens' | 'tool_use';
  stop_sequence: null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
    server_tool_use?: { web_search_requests: number };
  };
  /** The container code execution ran in (mock-claude-code-execution.ts); absent when none ran. */
  container?: MockContainer;
}

/** A code execution container, as the API reports it. */
export interface MockContainer {
  id: string;
  expires_at: string;
  skills: Array<{ type: 'anthropic' | 'custom'; skill_id: string; version: string }> | null;
}

/** What a code execution tool returned: its output and the files it created. */
interface CodeExecutionResult<Kind extends string> {
  type: `${Kind}_result`;
  stdout: string;
  stderr: string;
  return_code: number;
  content: Array<{ type: `${Kind}_output`; file_id: string }>;
}

/** A search result location, as the API cites one in a text block. */
interface WebSearchCitation {
  type: 'web_search_result_location';
  url: string;
  title: string;
  encrypted_index: string;
  cited_text: string;
}

/** A content block of a mock answer. */
export type MockBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'text'; text: string; citations?: WebSearchCitation[] }
  | { type: 'tool_use' | 'server_tool_use'; id: string; name: string; input: Obj }
  | {
      type: 'web_search_tool_result';
      tool_use_id: string;
      content: Array<{
        type: 'web_search_result';
        url: string;
        title: string;
        encrypted_content: string;
        page_age: string;
      }>;
    }
  | {
      type: 'bash_code_execution_tool_result';
      tool_use_id: string;
      content: CodeExecutionResult<'bash_code_execution'>;
    }
  | { type: 'code_execution_tool_result'; tool_use_id: string; content: CodeExecutionResult<'code_execution'> };

/** One SSE event before framing. */
export interface MockSseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** The mock's thinking starts with this label and restates the last user message. */
export const THINKING_PREFIX = '[mock-claude thinking] The user wrote: ';

/** An opaque signature or encrypted blob like the API's (base64); the mock never verifies one sent back. */
function mockSignature(bytes = 48): string {
  return randomBytes(bytes).toString('base64');
}

/** Where the mock's search result lives: a reserved name, nothing to fetch. */
export const MOCK_SEARCH_URL = 'https://search.mock-claude.invalid/result/1';

/** Whether the request offers the web search server tool (`web_search_YYYYMMDD`), and tool_choice allows tools. */
function offersWebSearch(body: Obj): boolean {
  if (isObj(body.tool_choice) && body.tool_choice.type === 'none') return false;
  return (
    Array.isArray(body.tools) &&
    body.tools.some((t) => isObj(t) && typeof t.type === 'string' && t.type.startsWith('web_search_'))
  );
}

/**
 * A search for `query`, as the API returns one: the server tool call, its result (one page whose
 * title restates the query, its content encrypted), and the citation the answer carries.
 */
function webSearch(query: string): { blocks: MockBlock[]; citation: WebSearchCitation } {
  const id = mockId('srvtoolu');
  const title = `Search result: ${query}`;
  return {
    blocks: [
      { type: 'server_tool_use', id, name: 'web_search', input: { query } },
      {
        type: 'web_search_tool_result',
        tool_use_id: id,
        content: [
          {
            type: 'web_search_result',
            url: MOCK_SEARCH_URL,
            title,
            encrypted_content: mockSignature(96),
            page_age: 'November 1, 2026',
          },
        ],
      },
    ],
    citation: {
      type: 'web_search_result_location',
      url: MOCK_SEARCH_URL,
      title,
      encrypted_index: mockSignature(24),
      cited_text: query,
    },
  };
}

/** An id in Anthropic's style (`msg_01…`, `toolu_01…`, `req_01…`): prefix, "01", 22 base62-ish characters. */
export function mockId(prefix: string): string {
  return `${prefix}_01${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22)}`;
}

/** A stable token estimate (~4 characters a token) so count_tokens and usage.input_tokens agree. */
export function estimateInputTokens(body: Obj): number {
  return Math.max(1, Math.ceil(JSON.stringify([body.system ?? null, body.messages, body.tools ?? null]).length / 4));
}

/** The echo for a validated request body (model, max_tokens, messages already checked). */
export function buildReply(body: Obj): MockMessage {
  const messages = body.messages as unknown[];
  const userText = lastUserText(messages);
  const maxChars = (body.max_tokens as number) * 4;
  const full = ECHO_PREFIX + userText;
  const text = full.length > maxChars ? Array.from(full).slice(0, maxChars).join('') : full;
  const truncated = text !== full;
  const tool = truncated || !/use tool/i.test(userText) ? undefined : pickTool(body);
  const content: MockBlock[] = [{ type: 'text', text }];
  const search = offersWebSearch(body) ? webSearch(Array.from(userText).slice(0, 200).join('')) : undefined;
  if (search) content.splice(0, 1, ...search.blocks, { type: 'text', text, citations: [search.citation] });
  if (tool)
    content.push({ type: 'tool_use', id: mockId('toolu'), name: tool.name, input: sampleInput(tool.input_schema) });
  // Extended thinking: a signed thinking block first, as the API returns it (the mock's thinking restates the prompt).
  if (isObj(body.thinking) && (body.thinking.type === 'enabled' || body.thinking.type === 'adaptive'))
    content.unshift({ type: 'thinking', thinking: `${THINKING_PREFIX}${userText}`, signature: mockSignature() });
  const outputChars = content.reduce(
    (n, b) =>
      n +
      (b.type === 'text'
        ? b.text.length
        : b.type === 'thinking'
          ? b.thinking.length
          : 'tool_use_id' in b
            ? 0
            : JSON.stringify(b.input).length + b.name.length),
    0,
  );
  return {
    id: mockId('msg'),
    type: 'message',
    role: 'assistant',
    model: body.model as string,
    content,
    stop_reason: truncated ? 'max_tokens' : tool ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: estimateInputTokens(body),
      output_tokens: Math.max(1, Math.ceil(outputChars / 4)),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      ...(search ? { server_tool_use: { web_search_requests: 1 } } : {}),
    },
  };
}

/**
 * The event sequence the API streams for `message`: message_start (empty content, output_tokens 1),
 * per block content_block_start / deltas / content_block_stop (a ping after the first start; a
 * server tool's result comes whole in its start; a citation as a citations_delta before the
 * text), message_delta with the stop reason and final output_tokens, message_stop.
 */
export function messageEvents(message: MockMessage, chunkChars: number): MockSseEvent[] {
  const events: MockSseEvent[] = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...message.usage, output_tokens: 1 },
          // The container is reported when the answer ends, in message_delta.
          ...(message.container ? { container: null } : {}),
        },
      },
    },
  ];
  const delta = (index: number, d: Obj): MockSseEvent => ({
    event: 'content_block_delta',
    data: { type: 'content_block_delta', index, delta: d },
  });
  message.content.forEach((block, index) => {
    const start =
      block.type === 'text'
        ? { type: 'text', text: '' }
        : block.type === 'thinking'
          ? { type: 'thinking', thinking: '', signature: '' }
          : 'tool_use_id' in block
            ? block
            : { type: block.type, id: block.id, name: block.name, input: {} };
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: start } });
    if (index === 0) events.push({ event: 'ping', data: { type: 'ping' } });
    if (block.type === 'thinking') {
      for (const piece of chunks(block.thinking, chunkChars))
        events.push(delta(index, { type: 'thinking_delta', thinking: piece }));
      events.push(delta(index, { type: 'signature_delta', signature: block.signature }));
    } else if ('tool_use_id' in block) {
      // A server tool's result is complete in its content_block_start: no deltas.
    } else if (block.type === 'text') {
      for (const citation of block.citations ?? []) events.push(delta(index, { type: 'citations_delta', citation }));
      for (const piece of chunks(block.text, chunkChars))
        events.push(delta(index, { type: 'text_delta', text: piece }));
    } else {
      // The API opens every tool input with an empty fragment before the JSON text.
      events.push(delta(index, { type: 'input_json_delta', partial_json: '' }));
      for (const piece of chunks(JSON.stringify(block.input), chunkChars))
        events.push(delta(index, { type: 'input_json_delta', partial_json: piece }));
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: {
        stop_reason: message.stop_reason,
        stop_sequence: null,
        ...(message.container ? { container: message.container } : {}),
      },
      usage: { output_tokens: message.usage.output_tokens },
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

/** Splits on code points, never inside a surrogate pair, as the API never sends half a character. */
function chunks(text: string, size: number): string[] {
  const points = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += Math.max(1, size)) out.push(points.slice(i, i + Math.max(1, size)).join(''));
  return out;
}

/** Text of the last user turn: its text blocks, or the text inside tool_result blocks. */
function lastUserText(messages: unknown[]): string {
  const last = [...messages].reverse().find((m) => isObj(m) && m.role === 'user');
  return isObj(last) ? textOf(last.content) : '';
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter(isObj)
    .map((b) =>
      b.type === 'text' && typeof b.text === 'string' ? b.text : b.type === 'tool_result' ? textOf(b.content) : '',
    )
    .filter((t) => t !== '')
    .join('\n');
}

/**
 * The tool to call: the one tool_choice names, else the first client tool (server tools run at Anthropic, not the
 * caller).
 */
function pickTool(body: Obj): { name: string; input_schema: unknown } | undefined {
  if (!Array.isArray(body.tools)) return undefined;
  const choice = isObj(body.tool_choice) ? body.tool_choice : {};
  if (choice.type === 'none') return undefined;
  const tools = body.tools.filter(
    (t): t is Obj => isObj(t) && typeof t.name === 'string' && (t.type === undefined || t.type === 'custom'),
  );
  const tool = choice.type === 'tool' ? tools.find((t) => t.name === choice.name) : tools[0];
  return tool ? { name: tool.name as string, input_schema: tool.input_schema } : undefined;
}

/** A minimal input that satisfies the schema's required properties (first enum value, or a zero value by type). */
function sampleInput(schema: unknown): Obj {
  if (!isObj(schema) || !Array.isArray(schema.required)) return {};
  const props = isObj(schema.properties) ? schema.properties : {};
  const zero: Obj = { string: 'mock', number: 0, integer: 0, boolean: false, array: [], object: {} };
  const entries = schema.required
    .filter((k): k is string => typeof k === 'string')
    .map((k) => {
      const p = props[k];
      const value =
        isObj(p) && Array.isArray(p.enum) && p.enum.length > 0
          ? p.enum[0]
          : isObj(p) && typeof p.type === 'string'
            ? (zero[p.type] ?? null)
            : null;
      return [k, value] as const;
    });
  return Object.fromEntries(entries);
}
