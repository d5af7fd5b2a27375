import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { Operation, RequestFacts, SkillFact, ToolFact } from './facts.ts';
import { estimateTokens } from './token-estimate.ts';

/**
 * The parts of a Messages API request the gateway interprets. Everything else passes through
 * untouched (`looseObject`), so new API fields keep working; the fields Sluice decides on are
 * type-checked so that a policy never sees a value of the wrong shape.
 */
const contentBlock = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(contentBlock)]);

const messagesBody = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content })),
  system: content.optional(),
  stream: z.boolean().optional(),
  tools: z.array(z.looseObject({ name: z.string().min(1), type: z.string().optional() })).optional(),
  container: z
    .union([
      z.string(),
      z.looseObject({
        skills: z
          .array(z.looseObject({ type: z.string(), skill_id: z.string().min(1), version: z.union([z.string(), z.number()]).optional() }))
          .optional(),
      }),
    ])
    .nullish(),
});

/** count_tokens takes the same prompt fields but no max_tokens and no stream. */
const countTokensBody = messagesBody.omit({ max_tokens: true, stream: true });

export type MessagesBody = z.infer<typeof messagesBody>;

function invalid(error: z.ZodError): SluiceError {
  const issue = error.issues[0]!;
  const where = issue.path.join('.') || 'body';
  return new SluiceError('SLUICE_ERR_BAD_REQUEST', `${where}: ${issue.message}`);
}

/** Content nests a few levels at most (tool_result → blocks → text); deeper is hostile input. */
const MAX_CONTENT_DEPTH = 32;

/** Collects the prompt text of a content value: strings, text blocks, tool results, documents. */
function collectText(value: unknown, out: string[], depth = 0): void {
  if (depth > MAX_CONTENT_DEPTH) throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `content is nested deeper than ${MAX_CONTENT_DEPTH} levels`);
  if (typeof value === 'string') {
    out.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectText(item, out, depth + 1);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const block = value as Record<string, unknown>;
  switch (block.type) {
    case 'text':
      collectText(block.text, out, depth + 1);
      break;
    case 'tool_result':
      collectText(block.content, out, depth + 1);
      break;
    case 'tool_use':
      if (block.input !== undefined) out.push(JSON.stringify(block.input));
      break;
    case 'document': {
      const source = block.source as Record<string, unknown> | undefined;
      if (source?.type === 'text') collectText(source.data, out, depth + 1);
      else if (source?.type === 'content') collectText(source.content, out, depth + 1);
      break;
    }
    default:
      break; // images and files carry no text the gateway can read
  }
}

function promptText(body: Pick<MessagesBody, 'system' | 'messages'>): string {
  const parts: string[] = [];
  collectText(body.system, parts);
  for (const message of body.messages) collectText(message.content, parts);
  return parts.join('\n');
}

function skillsOf(container: MessagesBody['container']): SkillFact[] {
  if (!container || typeof container === 'string' || !container.skills) return [];
  return container.skills.map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version === undefined ? undefined : String(s.version) }));
}

function toolsOf(tools: MessagesBody['tools']): ToolFact[] {
  return (tools ?? []).map((t) => ({ name: t.name, type: t.type ?? 'custom' }));
}

/** Splits `anthropic-beta: a,b` (or repeated headers) into a clean list. */
export function parseBetas(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/**
 * Validates a Messages or count_tokens body and derives the facts the policy decides on.
 * Throws SluiceError 400 with the first offending field, as the Claude API does.
 */
export function inspectMessagesRequest(operation: 'messages.create' | 'messages.count_tokens', body: unknown, betas: string[]): RequestFacts {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'body: expected a JSON object');
  }
  const schema = operation === 'messages.create' ? messagesBody : countTokensBody;
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  const request = parsed.data as MessagesBody;
  const text = promptText(request);
  const toolText = request.tools ? JSON.stringify(request.tools) : '';
  return {
    operation,
    model: request.model,
    stream: request.stream === true,
    maxTokens: request.max_tokens,
    skills: skillsOf(request.container),
    tools: toolsOf(request.tools),
    betas,
    estimatedInputTokens: estimateTokens(text) + estimateTokens(toolText),
    text,
    findings: {},
  };
}

/** Facts for the body-less model routes. */
export function inspectModelsRequest(operation: Extract<Operation, 'models.list' | 'models.get'>, model: string | undefined, betas: string[]): RequestFacts {
  return { operation, model, stream: false, maxTokens: undefined, skills: [], tools: [], betas, estimatedInputTokens: 0, text: '', findings: {} };
}
