/**
 * The parts of the Anthropic API contract mock-claude enforces besides the answer itself:
 * request validation with the API's messages, error bodies, and the models catalogue.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entry of GET /v1/models. */
export interface MockModel {
  readonly type: 'model';
  readonly id: string;
  readonly display_name: string;
  readonly created_at: string;
}

/** The models mock-claude lists, newest first, as the API orders them. */
export const MOCK_MODELS: readonly MockModel[] = [
  { type: 'model', id: 'claude-opus-4-7', display_name: 'Claude Opus 4.7', created_at: '2026-09-15T00:00:00Z' },
  { type: 'model', id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-08-20T00:00:00Z' },
  { type: 'model', id: 'claude-opus-4-5', display_name: 'Claude Opus 4.5', created_at: '2025-11-24T00:00:00Z' },
  { type: 'model', id: 'claude-haiku-4-5', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
  { type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
  { type: 'model', id: 'claude-opus-4-1', display_name: 'Claude Opus 4.1', created_at: '2025-08-05T00:00:00Z' },
  { type: 'model', id: 'claude-sonnet-4-0', display_name: 'Claude Sonnet 4', created_at: '2025-05-22T00:00:00Z' },
];

/** Anthropic's error `type` for an HTTP status. */
export function errorTypeFor(status: number): string {
  const types: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    504: 'timeout_error',
    529: 'overloaded_error',
  };
  return types[status] ?? 'api_error';
}

/**
 * The API's error body; like the real API it carries the request id, and `details` (with its `error_code`) when the
 * error has a stable code.
 */
export function apiErrorBody(type: string, message: string, requestId: string, details?: Obj): Obj {
  return { type: 'error', error: { type, message, ...(details ? { details } : {}) }, request_id: requestId };
}

/**
 * Checks a Messages (or count_tokens) body the way the API does and returns its first complaint,
 * worded like the API's `invalid_request_error` messages; undefined when the body is valid.
 */
export function validateMessagesBody(body: unknown, opts: { countTokens: boolean }): string | undefined {
  if (!isObj(body)) return 'Request body must be a JSON object';
  if (body.model === undefined) return 'model: Field required';
  if (typeof body.model !== 'string' || body.model === '') return 'model: Input should be a valid string';
  if (!opts.countTokens) {
    if (body.max_tokens === undefined) return 'max_tokens: Field required';
    if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens))
      return 'max_tokens: Input should be a valid integer';
    if (body.max_tokens < 1) return 'max_tokens: Input should be greater than or equal to 1';
    if (body.stream !== undefined && typeof body.stream !== 'boolean') return 'stream: Input should be a valid boolean';
  }
  if (body.messages === undefined) return 'messages: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list';
  if (body.messages.length === 0) return 'messages: List should have at least 1 item after validation, not 0';
  for (const [i, m] of body.messages.entries()) {
    if (!isObj(m)) return `messages.${i}: Input should be a valid dictionary`;
    if (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'system')
      return `messages.${i}.role: Input should be 'user', 'assistant' or 'system'`;
    if (m.role === 'system' && Array.isArray(m.content) && m.content.some((b) => !isObj(b) || b.type !== 'text'))
      return `messages.${i}.content: a system message holds text blocks only`;
    if (typeof m.content !== 'string' && !Array.isArray(m.content))
      return `messages.${i}.content: Input should be a valid list`;
    if (Array.isArray(m.content) && m.content.some((b) => !isObj(b) || typeof b.type !== 'string'))
      return `messages.${i}.content: each content block needs a type`;
  }
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system))
    return 'system: Input should be a valid list';
  if (body.tools !== undefined && !Array.isArray(body.tools)) return 'tools: Input should be a valid list';
  return thinkingProblem(body);
}

/**
 * A page of GET /v1/models honouring `limit` (1–1000, default 20), `after_id` and `before_id`; a string is a 400
 * message.
 */
export function modelsPage(models: readonly MockModel[], query: URLSearchParams): Obj | string {
  const limitText = query.get('limit');
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    return 'limit: Input should be an integer between 1 and 1000';
  let list = [...models];
  const after = query.get('after_id');
  const before = query.get('before_id');
  if (after !== null) list = list.slice(list.findIndex((m) => m.id === after) + 1 || list.length);
  if (before !== null)
    list = list.slice(
      0,
      Math.max(
        0,
        list.findIndex((m) => m.id === before),
      ),
    );
  // before_id pages backwards, so the page is the items just before the cursor.
  const data = before !== null && after === null ? list.slice(-limit) : list.slice(0, limit);
  const hasMore = before !== null && after === null ? list.length > data.length : list.length > limit;
  return { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** The API's checks of extended thinking: `{type: "enabled", budget_tokens}`, at least 1024 and below max_tokens. */
function thinkingProblem(body: Record<string, unknown>): string | undefined {
  const thinking = body.thinking;
  if (thinking === undefined) return undefined;
  if (!isObj(thinking) || !['enabled', 'disabled', 'adaptive'].includes(String(thinking.type)))
    return "thinking: Input tag should be 'enabled', 'disabled' or 'adaptive'";
  // adaptive: the model decides how much to think (no budget), as Claude Code asks by default.
  if (thinking.type === 'disabled' || thinking.type === 'adaptive') return undefined;
  const budget = thinking.budget_tokens;
  if (typeof budget !== 'number' || !Number.isInteger(budget)) return 'thinking.enabled.budget_tokens: Field required';
  if (budget < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
  if (typeof body.max_tokens === 'number' && budget >= body.max_tokens)
    return '`max_tokens` must be greater than `thinking.budget_tokens`';
  return undefined;
}
