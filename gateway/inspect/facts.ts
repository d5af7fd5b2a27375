/** The operations the gateway knows; each maps to one documented route. */
export type Operation = 'messages.create' | 'messages.count_tokens' | 'models.list' | 'models.get';

/** A tool named in the request: custom tools have a name, server tools also a versioned type. */
export interface ToolFact {
  readonly name: string;
  readonly type: string;
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
  readonly betas: readonly string[];
  readonly estimatedInputTokens: number;
  /** The prompt text (system + messages) the policy may pattern-match. */
  readonly text: string;
  /** Entity findings by type (count only, never values), filled by the detect stage. */
  readonly findings: Readonly<Record<string, number>>;
}
