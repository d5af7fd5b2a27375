import type { Operation } from '../operations/operation-table.ts';

/**
 * A tool named in the request: custom tools have a name, server tools also a versioned type.
 * `family` is what a policy judges: the name for a custom tool, the type without its version
 * date for a server tool (`code_execution_20250825` → `code_execution`, whatever its name).
 */
export interface ToolFact {
  readonly name: string;
  readonly type: string;
  readonly family: string;
}

/** An MCP server from `mcp_servers` (its authorization token is never a fact). */
export interface McpServerFact {
  readonly name: string;
  readonly url: string;
  /** `tool_configuration.allowed_tools`; null when the request allows every tool of the server. */
  readonly allowed_tools: readonly string[] | null;
  readonly enabled: boolean;
}

/** Images and non-text documents anywhere in the request (no text rule can read them). */
export interface MediaFact {
  readonly images: number;
  readonly documents: number;
  /** Decoded size of the base64 payloads. */
  readonly bytes: number;
}

/** A skill from `container.skills`. */
export interface SkillFact {
  readonly type: string;
  readonly skill_id: string;
  readonly version: string | undefined;
}

/**
 * What the gateway understood of one request: the facts the policy decides on.
 * Values are derived from the request body and headers; nothing here is a secret.
 */
export interface RequestFacts {
  readonly operation: Operation;
  readonly model: string | undefined;
  readonly stream: boolean;
  readonly maxTokens: number | undefined;
  readonly skills: readonly SkillFact[];
  readonly tools: readonly ToolFact[];
  readonly mcpServers: readonly McpServerFact[];
  /** `tool_choice`: its type and, for `{type: "tool"}`, the tool's name. */
  readonly toolChoice: { readonly type: string; readonly name: string | null } | null;
  /** The container the request reuses (`container` as a string, or its `id`). */
  readonly container: { readonly id: string | null } | null;
  readonly media: MediaFact;
  readonly betas: readonly string[];
  readonly estimatedInputTokens: number;
  /** Every string a model reads (system, messages, tool definitions; request-schema.ts), joined by "\n". */
  readonly text: string;
  /** Entity findings by type (count only, never values), filled by the detect stage. */
  readonly findings: Readonly<Record<string, number>>;
}
