import type { ClaimValue, Identity } from '../identity/identity.ts';
import type { RequestFacts } from '../inspect/facts.ts';
import type { TextMatches } from './text-matcher.ts';

/** The session facts the policy sees (gateway/access). */
export interface SessionFacts {
  readonly id: string;
  readonly age_seconds: number;
  readonly idle_seconds: number;
  readonly requests: number;
  readonly grants: readonly string[];
}

/**
 * The object an operation names by id (a file…), as the ownership stage found it. `owner` is null when
 * Sluice has no record of it (created before Sluice or elsewhere); the size and media type come from that record.
 */
export interface ResourceFacts {
  readonly type: string;
  readonly id: string;
  readonly owner: string | null;
  /** The owner's groups when the object was created (for a policy sharing objects within a group). */
  readonly owner_groups: readonly string[];
  readonly created_at: string | null;
  readonly size_bytes: number | null;
  readonly media_type: string | null;
}

/**
 * A Files API upload as spooled (never its content): `text` when its media type is text-like
 * (text/*, JSON, CSV, Markdown), `scanned` when that text was read for entities (its findings are in
 * `request.findings`); a text upload too large to read, or not UTF-8, is `text: true, scanned: false`.
 */
export interface UploadFacts {
  readonly filename: string;
  readonly media_type: string;
  readonly size_bytes: number;
  /** Hex SHA-256 of the bytes received (before any masking). */
  readonly sha256: string;
  readonly text: boolean;
  readonly scanned: boolean;
}

/** One file of a skill upload, as the policy sees it (never its content). */
export interface SkillFileFacts {
  /** Its path in the skill, `<directory>/…` (entity values in it replaced by their type). */
  readonly path: string;
  readonly size_bytes: number;
  /** Hex SHA-256 of the bytes received. */
  readonly sha256: string;
  readonly media_type: string;
  /** UTF-8 text: read for entities and by the text rules (its findings are in `request.findings`). */
  readonly text: boolean;
}

/**
 * A Skills API upload (skills.create, skills.versions.create): SKILL.md's `name` and `description`, the display
 * title sent with it, and every file. The text of its text files (SKILL.md, scripts) is `request.text`, so the text
 * rules and the entity findings (`request.findings`) cover them. Entity values are replaced by their type.
 */
export interface SkillFacts {
  readonly name: string;
  readonly description: string;
  readonly display_title: string | null;
  /** The top-level directory every file is under. */
  readonly directory: string;
  readonly size_bytes: number;
  readonly files: readonly SkillFileFacts[];
}

/** The `input` document of `sluice/decision`, exactly as DESIGN.md's policy contract names it. */
export interface PolicyInput {
  readonly identity: {
    sub: string;
    iss: string;
    client_id: string | null;
    groups: readonly string[];
    scopes: readonly string[];
    token_id: string | null;
    issued_at: number;
    expires_at: number;
    /** The configured name of the issuer that vouched for the token (`default` for identity.issuer). */
    issuer_name: string;
    /** The token claims that issuer passes to the policy (identity.issuers[].claims); {} when none. */
    claims: Readonly<Record<string, ClaimValue>>;
  };
  readonly connection: string;
  readonly request: {
    operation: string;
    model: string | null;
    stream: boolean;
    max_tokens: number | null;
    skills: readonly { type: string; skill_id: string; version: string | null }[];
    /** `family`: the name for a custom tool, the type without its version date for a server tool. */
    tools: readonly { name: string; type: string; family: string }[];
    mcp_servers: readonly { name: string; url: string; allowed_tools: readonly string[] | null; enabled: boolean }[];
    tool_choice: { type: string; name: string | null } | null;
    container: { id: string | null } | null;
    /** Images and non-text documents, which no text rule reads: a policy may refuse them. */
    media: { images: number; documents: number; bytes: number };
    betas: readonly string[];
    estimated_input_tokens: number;
    text: string;
    findings: Readonly<Record<string, number>>;
    /** The bundle's text rules found in `text`: set by the engine (PolicyEngine.evaluateWithResult). */
    text_matches?: TextMatches;
  };
  /** The file of a `files.upload` call; null (or absent) for every other call. */
  readonly upload?: UploadFacts | null;
  /** The skill of a skills.create or skills.versions.create call; null (or absent) for every other call. */
  readonly skill?: SkillFacts | null;
  /** The object the call names by id, for operations on owned objects (files…); null for every other call. */
  readonly resource?: ResourceFacts | null;
  /**
   * The objects a Messages request refers to by id (files in document, image and container_upload
   * blocks; the container it continues; custom skills it loads), each with its owner as the
   * ownership store has it.
   */
  readonly references?: readonly ResourceFacts[];
  readonly session: SessionFacts | null;
  readonly approval: { id: string; state: string; approver: string | null } | null;
  readonly now: string;
}

/** Builds the policy input. It carries no token and no secret: only facts derived from them. */
export function buildPolicyInput(args: {
  identity: Identity;
  connection: string;
  facts: RequestFacts;
  session: SessionFacts | null;
  /** The object the call names, from the ownership stage; null or absent when the call names none. */
  resource?: ResourceFacts | null;
  /** The spooled upload of `files.upload`. */
  upload?: UploadFacts | null;
  /** The spooled skill of a skill upload. */
  skill?: SkillFacts | null;
  /** The owned objects a Messages request refers to. */
  references?: readonly ResourceFacts[];
  /** The approval the call presents or waited for (gateway/approvals). */
  approval?: PolicyInput['approval'];
  now: Date;
}): PolicyInput {
  const { identity, facts } = args;
  return {
    identity: {
      sub: identity.sub,
      iss: identity.iss,
      client_id: identity.clientId ?? null,
      groups: identity.groups,
      scopes: identity.scopes,
      token_id: identity.tokenId ?? null,
      issued_at: identity.issuedAt,
      expires_at: identity.expiresAt,
      issuer_name: identity.issuerName ?? 'default',
      claims: identity.claims ?? {},
    },
    connection: args.connection,
    request: {
      operation: facts.operation,
      model: facts.model ?? null,
      stream: facts.stream,
      max_tokens: facts.maxTokens ?? null,
      skills: facts.skills.map((s) => ({ type: s.type, skill_id: s.skill_id, version: s.version ?? null })),
      tools: facts.tools,
      mcp_servers: facts.mcpServers,
      tool_choice: facts.toolChoice,
      container: facts.container,
      media: facts.media,
      betas: facts.betas,
      estimated_input_tokens: facts.estimatedInputTokens,
      text: facts.text,
      findings: facts.findings,
    },
    upload: args.upload ?? null,
    skill: args.skill ?? null,
    resource: args.resource ?? null,
    references: args.references ?? [],
    session: args.session,
    approval: args.approval ?? null,
    now: args.now.toISOString(),
  };
}
