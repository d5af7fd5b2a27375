import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { Operation } from '../operations/operation-table.ts';
import type { McpServerFact, RequestFacts, SkillFact, ToolFact } from './facts.ts';
import { walkRequest, type UnknownBlocks } from './request-schema.ts';
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
  // `system` messages mid-conversation (beta mid-conversation-system; Claude Code sends them): text only.
  messages: z.array(
    z.discriminatedUnion('role', [
      z.looseObject({ role: z.literal('user'), content }),
      z.looseObject({ role: z.literal('assistant'), content }),
      z.looseObject({
        role: z.literal('system'),
        content: z.union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))]),
      }),
    ]),
  ),
  system: content.optional(),
  stream: z.boolean().optional(),
  // An mcp_toolset entry has no name: it names its MCP server instead.
  tools: z
    .array(
      z.union([
        z.looseObject({ type: z.literal('mcp_toolset'), mcp_server_name: z.string().min(1) }),
        z.looseObject({ name: z.string().min(1), type: z.string().optional() }),
      ]),
    )
    .optional(),
  mcp_servers: z
    .array(
      z.looseObject({
        name: z.string().min(1),
        url: z.string().min(1),
        tool_configuration: z
          .looseObject({ allowed_tools: z.array(z.string()).nullish(), enabled: z.boolean().nullish() })
          .nullish(),
      }),
    )
    .optional(),
  tool_choice: z.looseObject({ type: z.string(), name: z.string().optional() }).optional(),
  container: z
    .union([
      z.string(),
      z.looseObject({
        id: z.string().nullish(),
        skills: z
          .array(
            z.looseObject({
              type: z.string(),
              skill_id: z.string().min(1),
              version: z.union([z.string(), z.number()]).optional(),
            }),
          )
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

function skillsOf(container: MessagesBody['container']): SkillFact[] {
  if (!container || typeof container === 'string' || !container.skills) return [];
  return container.skills.map((s) => ({
    type: s.type,
    skill_id: s.skill_id,
    version: s.version === undefined ? undefined : String(s.version),
  }));
}

/** A server tool's type without its version date: `web_search_20250305` → `web_search`. */
function typeFamily(type: string): string {
  return type.replace(/_\d{8}$/, '');
}

function toolsOf(tools: MessagesBody['tools']): ToolFact[] {
  return (tools ?? []).map((t) => {
    if (t.type === 'mcp_toolset') {
      return { name: t.mcp_server_name as string, type: 'mcp_toolset', family: 'mcp_toolset' };
    }
    const type = t.type ?? 'custom';
    return { name: t.name as string, type, family: type === 'custom' ? (t.name as string) : typeFamily(type) };
  });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The tools an `mcp_toolset` entry enables (the newer MCP connector): with `default_config.enabled`
 * false only the `configs` entries enabled by name; otherwise every tool (null).
 */
function toolsetAllows(toolset: Obj | undefined): string[] | null {
  if (!toolset) return null;
  const configs = isObj(toolset.configs) ? toolset.configs : {};
  const enabledByDefault = !(isObj(toolset.default_config) && toolset.default_config.enabled === false);
  if (enabledByDefault) return null;
  return Object.keys(configs).filter((name) => isObj(configs[name]) && configs[name].enabled === true);
}

function mcpServersOf(servers: MessagesBody['mcp_servers'], tools: MessagesBody['tools']): McpServerFact[] {
  const toolsets = (tools ?? []).filter((t) => t.type === 'mcp_toolset') as Obj[];
  return (servers ?? []).map((s) => {
    const listed = s.tool_configuration?.allowed_tools ?? null;
    const fromToolset = toolsetAllows(toolsets.find((t) => t.mcp_server_name === s.name));
    // Both may narrow the tools: the policy sees the narrower list (null only when neither does).
    const allowed = listed && fromToolset ? listed.filter((n) => fromToolset.includes(n)) : (listed ?? fromToolset);
    return { name: s.name, url: s.url, allowed_tools: allowed, enabled: s.tool_configuration?.enabled ?? true };
  });
}

function containerOf(container: MessagesBody['container']): RequestFacts['container'] {
  if (container === undefined || container === null) return null;
  return { id: typeof container === 'string' ? container : (container.id ?? null) };
}

const NO_MEDIA = { images: 0, documents: 0, bytes: 0 } as const;

/** Splits `anthropic-beta: a,b` (or repeated headers) into a clean list. */
export function parseBetas(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/**
 * Validates a Messages or count_tokens body and derives the facts the policy decides on.
 * Throws SluiceError 400 with the first offending field, as the Claude API does, and for a
 * content block type Sluice does not know unless `unknownBlocks` is `scan`.
 */
export function inspectMessagesRequest(
  operation: Operation,
  body: unknown,
  betas: string[],
  unknownBlocks: UnknownBlocks = 'refuse',
): RequestFacts {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'body: expected a JSON object');
  }
  const schema = operation === 'messages.count_tokens' ? countTokensBody : messagesBody;
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  const request = parsed.data as MessagesBody;
  // The same walk as the entity scan (request-entities.ts): what the policy reads is what is masked.
  const walk = walkRequest(request, unknownBlocks);
  const text = walk.strings.map((s) => s.value).join('\n');
  const promptText = walk.strings
    .filter((s) => !s.path.startsWith('tools['))
    .map((s) => s.value)
    .join('\n');
  const toolText = request.tools ? JSON.stringify(request.tools) : '';
  return {
    operation,
    model: request.model,
    stream: request.stream === true,
    maxTokens: request.max_tokens,
    skills: skillsOf(request.container),
    tools: toolsOf(request.tools),
    mcpServers: mcpServersOf(request.mcp_servers, request.tools),
    toolChoice: request.tool_choice ? { type: request.tool_choice.type, name: request.tool_choice.name ?? null } : null,
    container: containerOf(request.container),
    media: { ...walk.media },
    betas,
    estimatedInputTokens: estimateTokens(promptText) + estimateTokens(toolText),
    text,
    findings: {},
  };
}

/** Facts for a body-less operation (the model routes): `model` is the resource id in the route, if any. */
export function inspectBodilessRequest(operation: Operation, model: string | undefined, betas: string[]): RequestFacts {
  return {
    operation,
    model,
    stream: false,
    maxTokens: undefined,
    skills: [],
    tools: [],
    mcpServers: [],
    toolChoice: null,
    container: null,
    media: NO_MEDIA,
    betas,
    estimatedInputTokens: 0,
    text: '',
    findings: {},
  };
}
