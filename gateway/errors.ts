/**
 * Every error Sluice can return, in one table: stable code → HTTP status, Anthropic error type
 * and a default message. The Anthropic SDKs pick their exception class from the status and read
 * `{"type":"error","error":{"type","message"}}`, so every refusal uses that shape.
 * README.md documents each code; test/unit/errors.test.ts keeps table and docs in step.
 */

/** Anthropic's error `type` values (https://docs.anthropic.com/en/api/errors). */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

interface ErrorSpec {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
}

export const ERRORS = {
  SLUICE_ERR_AUTH_MISSING: {
    status: 401,
    type: 'authentication_error',
    message:
      'missing bearer token: send an OIDC access token as Authorization: Bearer <token> (SDK authToken, ' +
      'Claude Code ANTHROPIC_AUTH_TOKEN) or as x-api-key (SDK apiKey, Claude Code apiKeyHelper)',
  },
  SLUICE_ERR_AUTH_INVALID: { status: 401, type: 'authentication_error', message: 'invalid token' },
  SLUICE_ERR_AUTH_EXPIRED: {
    status: 401,
    type: 'authentication_error',
    message:
      'token expired: obtain a new token and retry (sluice token, or your identity provider; ' +
      'Claude Code: an apiKeyHelper refreshes it for you)',
  },
  SLUICE_ERR_AUTH_LIFETIME: {
    status: 401,
    type: 'authentication_error',
    message: 'token lifetime exceeds the maximum this gateway accepts: use a short-lived token',
  },
  SLUICE_ERR_IDP_UNAVAILABLE: {
    status: 503,
    type: 'api_error',
    message: 'identity provider unavailable: token cannot be verified right now',
  },
  SLUICE_ERR_BAD_REQUEST: { status: 400, type: 'invalid_request_error', message: 'invalid request' },
  SLUICE_ERR_BAD_JSON: { status: 400, type: 'invalid_request_error', message: 'request body is not valid JSON' },
  SLUICE_ERR_DUPLICATE_KEY: {
    status: 400,
    type: 'invalid_request_error',
    message: 'request body has a key twice in one object',
  },
  SLUICE_ERR_UNSUPPORTED_MEDIA: {
    status: 400,
    type: 'invalid_request_error',
    message: 'request body must be application/json',
  },
  SLUICE_ERR_BODY_TOO_LARGE: {
    status: 413,
    type: 'request_too_large',
    message: 'request body exceeds the configured limit',
  },
  SLUICE_ERR_UPLOAD_TOO_LARGE: {
    status: 413,
    type: 'request_too_large',
    message: 'the file exceeds the upload limit',
  },
  SLUICE_ERR_DOWNLOAD_NOT_MASKABLE: {
    status: 403,
    type: 'permission_error',
    message: 'this text file cannot be masked for you, so it is not downloaded',
  },
  SLUICE_ERR_BAD_UPLOAD: { status: 400, type: 'invalid_request_error', message: 'malformed file upload' },
  SLUICE_ERR_NOT_FOUND: { status: 404, type: 'not_found_error', message: 'no such route on this gateway' },
  SLUICE_ERR_OBJECT_NOT_FOUND: {
    status: 404,
    type: 'not_found_error',
    message: 'no such object, or not one of yours',
  },
  SLUICE_ERR_METHOD: { status: 405, type: 'invalid_request_error', message: 'method not allowed on this route' },
  SLUICE_ERR_UNKNOWN_CONNECTION: { status: 404, type: 'not_found_error', message: 'unknown connection' },
  SLUICE_ERR_POLICY_DENIED: { status: 403, type: 'permission_error', message: 'request denied by policy' },
  SLUICE_ERR_BATCH_UNKNOWN: {
    status: 404,
    type: 'not_found_error',
    message: 'no such message batch was created through this gateway on this connection',
  },
  SLUICE_ERR_BATCH_REFUSED: {
    status: 403,
    type: 'permission_error',
    message: 'message batch refused: a request in it was denied or needs an approval',
  },
  SLUICE_ERR_POLICY_ERROR: {
    status: 500,
    type: 'api_error',
    message: 'policy evaluation failed; request refused (fail closed)',
  },
  SLUICE_ERR_POLICY_NOT_READY: { status: 503, type: 'api_error', message: 'no policy bundle loaded yet' },
  SLUICE_ERR_APPROVAL_REQUIRED: {
    status: 403,
    type: 'permission_error',
    message: 'request requires a human approval that no approver group can give',
  },
  SLUICE_ERR_APPROVAL_DENIED: { status: 403, type: 'permission_error', message: 'an approver denied this request' },
  SLUICE_ERR_APPROVAL_TIMEOUT: {
    status: 403,
    type: 'permission_error',
    message:
      'approval still pending when the hold time ran out: ' +
      'resubmit the identical request with x-sluice-approval-id once approved',
  },
  SLUICE_ERR_APPROVAL_EXPIRED: { status: 403, type: 'permission_error', message: 'the approval expired' },
  SLUICE_ERR_APPROVAL_INVALID: {
    status: 403,
    type: 'permission_error',
    message: 'the approval id does not fit this request',
  },
  SLUICE_ERR_SESSION_REVOKED: {
    status: 401,
    type: 'authentication_error',
    message: 'your session was revoked: sign in again to get a new token, then retry',
  },
  SLUICE_ERR_FORBIDDEN: { status: 403, type: 'permission_error', message: 'not allowed for your identity' },
  SLUICE_ERR_CONFLICT: {
    status: 409,
    type: 'invalid_request_error',
    message: 'the resource is no longer in a state that allows this action',
  },
  SLUICE_ERR_CSRF: { status: 403, type: 'permission_error', message: 'missing or invalid CSRF token' },
  SLUICE_ERR_UPSTREAM_UNAVAILABLE: { status: 502, type: 'api_error', message: 'upstream unavailable' },
  SLUICE_ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'api_error', message: 'upstream timed out' },
  SLUICE_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, type: 'api_error', message: 'upstream sent a malformed response' },
  SLUICE_ERR_UPSTREAM_TOO_LARGE: {
    status: 502,
    type: 'api_error',
    message: 'upstream answer over limits.responseBytes',
  },
  SLUICE_ERR_AUDIT_UNAVAILABLE: {
    status: 503,
    type: 'api_error',
    message:
      'audit trail unavailable: an audit sink cannot take more events (audit file not writable or far behind, ' +
      'or Kafka spool full), so new requests are refused (fail closed)',
  },
  SLUICE_ERR_BUDGET_EXCEEDED: {
    status: 429,
    type: 'rate_limit_error',
    message: 'a usage budget the policy set for this call is spent: retry after the window resets',
  },
  SLUICE_ERR_RATE_LIMITED: {
    status: 429,
    type: 'rate_limit_error',
    message: 'too many requests from this address or with this token: retry after the time retry-after says',
  },
  SLUICE_ERR_STATE_UNAVAILABLE: {
    status: 503,
    type: 'api_error',
    message: 'the state database is unreachable: calls that need sessions or approvals are refused (fail closed)',
  },
  // Startup only: a configuration Sluice refuses to start with (never an HTTP answer; 500 were one raised later).
  SLUICE_ERR_CONFIG_INVALID: { status: 500, type: 'api_error', message: 'invalid Sluice configuration' },
  SLUICE_ERR_CONFIG_UNKNOWN_KEY: { status: 500, type: 'api_error', message: 'a config key Sluice does not know' },
  SLUICE_ERR_CONFIG_NO_ISSUER: { status: 500, type: 'api_error', message: 'identity.issuer unset off loopback' },
  SLUICE_ERR_START_PORT_IN_USE: { status: 500, type: 'api_error', message: 'the listen address is in use' },
  SLUICE_ERR_START_PORT_DENIED: { status: 500, type: 'api_error', message: 'not allowed to listen on that address' },
  SLUICE_ERR_START_STATE_SCHEMA_NEWER: {
    status: 500,
    type: 'api_error',
    message: 'the state database has a schema newer than this Sluice: upgrade Sluice, or restore a backup',
  },
  SLUICE_ERR_START_STATE_LOCKED: {
    status: 500,
    type: 'api_error',
    message: 'another running Sluice uses this embedded state database',
  },
  SLUICE_ERR_START_FAILED: { status: 500, type: 'api_error', message: 'the gateway could not start' },
  SLUICE_ERR_INTERNAL: { status: 500, type: 'api_error', message: 'internal gateway error' },
} as const satisfies Record<string, ErrorSpec>;

export type SluiceErrorCode = keyof typeof ERRORS;

/** A refusal with a stable code; `detail` replaces the default message when it says more. */
export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  readonly status: number;
  readonly type: AnthropicErrorType;

  /** Response headers the refusal carries (retry-after and the rate-limit headers of a budget). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: SluiceErrorCode,
    detail?: string,
    options?: { cause?: unknown; headers?: Readonly<Record<string, string>> },
  ) {
    const spec = ERRORS[code];
    super(detail ?? spec.message, options);
    this.name = 'SluiceError';
    this.code = code;
    this.status = spec.status;
    this.type = spec.type;
    this.headers = options?.headers ?? {};
  }
}

/** The body Anthropic's API (and so Sluice) sends with an error status. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType | string; message: string };
}

export function errorBody(type: AnthropicErrorType | string, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type, message } };
}

export function toErrorBody(err: SluiceError): AnthropicErrorBody {
  return errorBody(err.type, err.message);
}

/** Fastify's own refusals (raised before a route runs), as the codes of the table. */
const FASTIFY_CODES: Readonly<Record<string, () => SluiceError>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new SluiceError('SLUICE_ERR_BODY_TOO_LARGE'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new SluiceError('SLUICE_ERR_UNSUPPORTED_MEDIA'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new SluiceError('SLUICE_ERR_BAD_JSON', 'request body is empty'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    new SluiceError('SLUICE_ERR_BAD_REQUEST', 'Content-Length does not match the body'),
};

/**
 * Any thrown value as a SluiceError: itself, Fastify's refusals mapped to their codes, a schema
 * validation failure as a 400 naming the field, anything else as an internal error (its cause kept
 * for the log, never shown to the caller).
 */
export function toSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string; validation?: unknown } | null;
  const mapped = e?.code === undefined ? undefined : FASTIFY_CODES[e.code];
  if (mapped) return mapped();
  if (e?.statusCode === 413) return new SluiceError('SLUICE_ERR_BODY_TOO_LARGE', undefined, { cause: err });
  if (e?.statusCode === 415) return new SluiceError('SLUICE_ERR_UNSUPPORTED_MEDIA', undefined, { cause: err });
  if (e?.validation !== undefined || (e?.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)) {
    return new SluiceError('SLUICE_ERR_BAD_REQUEST', e.message ?? 'invalid request', { cause: err });
  }
  return new SluiceError('SLUICE_ERR_INTERNAL', undefined, { cause: err });
}

/** A reply that can carry an error: Fastify's, kept structural so this module needs no Fastify import. */
interface ErrorReply {
  code(status: number): ErrorReply;
  header(name: string, value: string): ErrorReply;
  send(payload: unknown): unknown;
}

/** The one place a refusal becomes a JSON reply: its status and Anthropic's error body. */
export function sendError(reply: ErrorReply, err: SluiceError): void {
  for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
  reply
    .code(err.status)
    .header('content-type', 'application/json')
    .send(JSON.stringify(toErrorBody(err)));
}
