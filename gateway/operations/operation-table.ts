/**
 * The Anthropic API operations Sluice serves, declared once. The proxy's routes, how each request
 * is inspected, how its upstream path is rebuilt, how its answer is relayed and the route table
 * in docs/routes.md all come from this table; an operation that is not here does not exist (404).
 */

/** The operations the gateway knows; the policy sees the name as `input.request.operation`. */
export type Operation =
  | 'messages.create'
  | 'messages.count_tokens'
  | 'models.list'
  | 'models.get'
  | 'files.upload'
  | 'files.list'
  | 'files.get'
  | 'files.download'
  | 'files.delete'
  | 'batches.create'
  | 'batches.list'
  | 'batches.get'
  | 'batches.results'
  | 'batches.cancel'
  | 'batches.delete'
  | 'skills.create'
  | 'skills.list'
  | 'skills.get'
  | 'skills.delete'
  | 'skills.versions.create'
  | 'skills.versions.list'
  | 'skills.versions.get'
  | 'skills.versions.delete';

/**
 * How the request is inspected: `message` parses and walks a Messages-shaped JSON body (the
 * Messages and count_tokens schemas); `batch` a Message Batch, each inner request as `message`;
 * `none` has no body, only the route's parameters; `upload` is a multipart/form-data file upload,
 * streamed to a temporary file and never held in memory; `skill_upload` a Skills API upload (`files[]` parts or
 * one .zip), streamed to temporary files and read as a skill (gateway/inspect/skill-upload.ts).
 */
export type RequestShape = 'message' | 'batch' | 'none' | 'upload' | 'skill_upload';

/**
 * How the answer reaches the caller: `message` is JSON, or Server-Sent Events when the request
 * asked for a stream (and the upstream answered with one); `json` is always JSON; `binary` streams
 * the upstream's bytes through unparsed and unbuffered (a file download; an upstream error is JSON);
 * `batch` is JSON holding Message Batch objects, whose `results_url` points back at Sluice;
 * `batch_results` is a batch's JSONL results, masked line by line.
 */
export type RelayMode = 'message' | 'json' | 'binary' | 'batch' | 'batch_results';

/**
 * The resource an operation acts on, for ownership and audit: which kind, what it does, which route parameter names it.
 */
export interface ResourceAction {
  /** A type Sluice records owners for (gateway/access/ownership.ts) goes through the ownership stage. */
  readonly type: 'model' | 'file' | 'batch' | 'skill';
  readonly action: 'create' | 'list' | 'read' | 'download' | 'update' | 'delete';
  /** The route parameter holding the resource id; absent for a listing. */
  readonly idParam?: string;
}

/** What the caller sent on the route, as the table's path builders read it. */
export interface RouteValues {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
}

/** One operation: everything the gateway knows about it. */
export interface OperationSpec {
  readonly operation: Operation;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Fastify route (with `:param`s), served at `/` and under `/c/{connection}`. */
  readonly route: string;
  readonly request: RequestShape;
  /** Rebuilds the upstream path from what the gateway understood; the caller's path is never copied. */
  readonly upstreamPath: (route: RouteValues) => string;
  readonly relay: RelayMode;
  /** The resource created, read or deleted; null when the call only computes (a message, a count). */
  readonly resource: ResourceAction | null;
  /** One line for the route table in docs/routes.md. */
  readonly summary: string;
}

/** Query parameters a listing keeps (string values only); everything else the caller added is dropped. */
function keptQuery(query: Readonly<Record<string, unknown>>, keys: readonly string[]): string {
  const kept = new URLSearchParams();
  for (const key of keys) {
    const value = query[key];
    if (typeof value === 'string') kept.set(key, value);
  }
  const qs = kept.toString();
  return qs ? `?${qs}` : '';
}

/** `/v1/skills/{skill_id}`, the id encoded as one path segment. */
function skillPath(params: Readonly<Record<string, string>>): string {
  return `/v1/skills/${encodeURIComponent(params.skill_id ?? '')}`;
}

/** `/v1/skills/{skill_id}/versions/{version}`, each encoded as one path segment. */
function skillVersionPath(params: Readonly<Record<string, string>>): string {
  return `${skillPath(params)}/versions/${encodeURIComponent(params.version ?? '')}`;
}

/** `/v1/messages/batches/{batch_id}`, the id encoded as one path segment. */
function batchPath(params: Readonly<Record<string, string>>): string {
  return `/v1/messages/batches/${encodeURIComponent(params.batch_id ?? '')}`;
}

export const OPERATIONS: readonly OperationSpec[] = [
  {
    operation: 'messages.create',
    method: 'POST',
    route: '/v1/messages',
    request: 'message',
    upstreamPath: () => '/v1/messages',
    relay: 'message',
    resource: null,
    summary: 'create a message: JSON, or SSE with `"stream": true`',
  },
  {
    operation: 'messages.count_tokens',
    method: 'POST',
    route: '/v1/messages/count_tokens',
    request: 'message',
    upstreamPath: () => '/v1/messages/count_tokens',
    relay: 'json',
    resource: null,
    summary: 'count the tokens of a message request',
  },
  {
    operation: 'models.list',
    method: 'GET',
    route: '/v1/models',
    request: 'none',
    upstreamPath: ({ query }) => `/v1/models${keptQuery(query, ['limit', 'before_id', 'after_id'])}`,
    relay: 'json',
    resource: { type: 'model', action: 'list' },
    summary: 'list models (`limit`, `before_id`, `after_id` kept; other query parameters dropped)',
  },
  {
    operation: 'models.get',
    method: 'GET',
    route: '/v1/models/:model_id',
    request: 'none',
    upstreamPath: ({ params }) => `/v1/models/${encodeURIComponent(params.model_id ?? '')}`,
    relay: 'json',
    resource: { type: 'model', action: 'read', idParam: 'model_id' },
    summary: 'one model',
  },
  {
    operation: 'files.upload',
    method: 'POST',
    route: '/v1/files',
    request: 'upload',
    upstreamPath: () => '/v1/files',
    relay: 'json',
    resource: { type: 'file', action: 'create' },
    summary: 'upload a file (multipart `file`, optional `expires_in_seconds`); the caller becomes its owner',
  },
  {
    operation: 'files.list',
    method: 'GET',
    route: '/v1/files',
    request: 'none',
    // `page` is the cursor the SDK pages with: dropping it would answer the first page forever.
    upstreamPath: ({ query }) => `/v1/files${keptQuery(query, ['limit', 'before_id', 'after_id', 'page'])}`,
    relay: 'json',
    resource: { type: 'file', action: 'list' },
    summary: 'list files, only those the caller may see (`limit`, `before_id`, `after_id`, `page` kept)',
  },
  {
    operation: 'files.get',
    method: 'GET',
    route: '/v1/files/:file_id',
    request: 'none',
    upstreamPath: ({ params }) => `/v1/files/${encodeURIComponent(params.file_id ?? '')}`,
    relay: 'json',
    resource: { type: 'file', action: 'read', idParam: 'file_id' },
    summary: "a file's metadata",
  },
  {
    operation: 'files.download',
    method: 'GET',
    route: '/v1/files/:file_id/content',
    request: 'none',
    upstreamPath: ({ params }) => `/v1/files/${encodeURIComponent(params.file_id ?? '')}/content`,
    relay: 'binary',
    resource: { type: 'file', action: 'download', idParam: 'file_id' },
    summary: "a file's content, streamed (files a tool created)",
  },
  {
    operation: 'files.delete',
    method: 'DELETE',
    route: '/v1/files/:file_id',
    request: 'none',
    upstreamPath: ({ params }) => `/v1/files/${encodeURIComponent(params.file_id ?? '')}`,
    relay: 'json',
    resource: { type: 'file', action: 'delete', idParam: 'file_id' },
    summary: 'delete a file',
  },
  {
    operation: 'batches.create',
    method: 'POST',
    route: '/v1/messages/batches',
    request: 'batch',
    upstreamPath: () => '/v1/messages/batches',
    relay: 'batch',
    resource: { type: 'batch', action: 'create' },
    summary: 'create a Message Batch: each request decided and masked as `messages.create`',
  },
  {
    operation: 'batches.list',
    method: 'GET',
    route: '/v1/messages/batches',
    request: 'none',
    upstreamPath: ({ query }) => `/v1/messages/batches${keptQuery(query, ['limit', 'before_id', 'after_id'])}`,
    relay: 'batch',
    resource: { type: 'batch', action: 'list' },
    summary: 'list Message Batches (`limit`, `before_id`, `after_id` kept; other query parameters dropped)',
  },
  {
    operation: 'batches.get',
    method: 'GET',
    route: '/v1/messages/batches/:batch_id',
    request: 'none',
    upstreamPath: ({ params }) => batchPath(params),
    relay: 'batch',
    resource: { type: 'batch', action: 'read', idParam: 'batch_id' },
    summary: 'one Message Batch (`results_url` points at Sluice)',
  },
  {
    operation: 'batches.results',
    method: 'GET',
    route: '/v1/messages/batches/:batch_id/results',
    request: 'none',
    upstreamPath: ({ params }) => `${batchPath(params)}/results`,
    relay: 'batch_results',
    resource: { type: 'batch', action: 'read', idParam: 'batch_id' },
    summary: "a Message Batch's results (JSONL, streamed), masked per request as its decision said",
  },
  {
    operation: 'batches.cancel',
    method: 'POST',
    route: '/v1/messages/batches/:batch_id/cancel',
    request: 'none',
    upstreamPath: ({ params }) => `${batchPath(params)}/cancel`,
    relay: 'batch',
    resource: { type: 'batch', action: 'update', idParam: 'batch_id' },
    summary: 'cancel a Message Batch',
  },
  {
    operation: 'batches.delete',
    method: 'DELETE',
    route: '/v1/messages/batches/:batch_id',
    request: 'none',
    upstreamPath: ({ params }) => batchPath(params),
    relay: 'json',
    resource: { type: 'batch', action: 'delete', idParam: 'batch_id' },
    summary: 'delete an ended Message Batch',
  },
  // A skill's versions are reached through the skill: whoever may use the skill may use its versions, and no one
  // else (the ownership stage checks the skill's owner); adding or deleting a version is an update of the skill.
  {
    operation: 'skills.create',
    method: 'POST',
    route: '/v1/skills',
    request: 'skill_upload',
    upstreamPath: () => '/v1/skills',
    relay: 'json',
    resource: { type: 'skill', action: 'create' },
    summary: 'upload a custom skill (`files[]` or one .zip, optional `display_title`); the caller becomes its owner',
  },
  {
    operation: 'skills.list',
    method: 'GET',
    route: '/v1/skills',
    request: 'none',
    upstreamPath: ({ query }) => `/v1/skills${keptQuery(query, ['limit', 'page', 'source'])}`,
    relay: 'json',
    resource: { type: 'skill', action: 'list' },
    summary: "list skills: Anthropic's and the caller's own custom ones (`limit`, `page`, `source` kept)",
  },
  {
    operation: 'skills.get',
    method: 'GET',
    route: '/v1/skills/:skill_id',
    request: 'none',
    upstreamPath: ({ params }) => skillPath(params),
    relay: 'json',
    resource: { type: 'skill', action: 'read', idParam: 'skill_id' },
    summary: 'one skill',
  },
  {
    operation: 'skills.delete',
    method: 'DELETE',
    route: '/v1/skills/:skill_id',
    request: 'none',
    upstreamPath: ({ params }) => skillPath(params),
    relay: 'json',
    resource: { type: 'skill', action: 'delete', idParam: 'skill_id' },
    summary: 'delete a custom skill',
  },
  {
    operation: 'skills.versions.create',
    method: 'POST',
    route: '/v1/skills/:skill_id/versions',
    request: 'skill_upload',
    upstreamPath: ({ params }) => `${skillPath(params)}/versions`,
    relay: 'json',
    resource: { type: 'skill', action: 'update', idParam: 'skill_id' },
    summary: 'upload a new version of a custom skill (`files[]` or one .zip)',
  },
  {
    operation: 'skills.versions.list',
    method: 'GET',
    route: '/v1/skills/:skill_id/versions',
    request: 'none',
    upstreamPath: ({ params, query }) => `${skillPath(params)}/versions${keptQuery(query, ['limit', 'page'])}`,
    relay: 'json',
    resource: { type: 'skill', action: 'read', idParam: 'skill_id' },
    summary: "list a skill's versions (`limit`, `page` kept)",
  },
  {
    operation: 'skills.versions.get',
    method: 'GET',
    route: '/v1/skills/:skill_id/versions/:version',
    request: 'none',
    upstreamPath: ({ params }) => skillVersionPath(params),
    relay: 'json',
    resource: { type: 'skill', action: 'read', idParam: 'skill_id' },
    summary: 'one version of a skill',
  },
  {
    operation: 'skills.versions.delete',
    method: 'DELETE',
    route: '/v1/skills/:skill_id/versions/:version',
    request: 'none',
    upstreamPath: ({ params }) => skillVersionPath(params),
    relay: 'json',
    resource: { type: 'skill', action: 'update', idParam: 'skill_id' },
    summary: 'delete a version of a custom skill',
  },
];

/** The declaration of operation `name` (e.g. `models.get`); undefined for none. */
export function operationNamed(name: string | undefined): OperationSpec | undefined {
  return OPERATIONS.find((op) => op.operation === name);
}

/** `/v1/models/:model_id` → a pattern matching one path segment per parameter. */
function routePattern(route: string): RegExp {
  const escaped = route
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${escaped.join('/')}$`);
}

const PATTERNS = OPERATIONS.map((op) => ({ op, pattern: routePattern(op.route) }));

/** Methods served on `path` (with or without a /c/{connection} prefix), for 405 answers; empty if none. */
export function methodsFor(path: string): string[] {
  const bare = path.replace(/^\/c\/[^/]+/, '');
  return PATTERNS.filter(({ pattern }) => pattern.test(bare)).map(({ op }) => op.method);
}

/** The route table of docs/routes.md, generated so the docs cannot drift from the code. */
export function operationsMarkdownTable(): string {
  const rows = OPERATIONS.map((op) => {
    const route = op.route.replace(/:([a-z_]+)/g, '{$1}');
    return `| \`${op.method} ${route}\` | \`${op.operation}\` | ${op.summary} |`;
  });
  return ['| route | operation (policy `input.request.operation`) | what it does |', '|---|---|---|', ...rows].join(
    '\n',
  );
}
