import { SluiceError } from '../errors.ts';

/** Which entity types to mask, in which direction, and how (from the policy result; applied by gateway/mask/). */
export interface MaskDirective {
  readonly request: readonly string[];
  readonly response: readonly string[];
  readonly style: 'placeholder' | 'partial' | 'hash';
  readonly restore: boolean;
}

export interface ApprovalRequirement {
  readonly reason: string;
  readonly approverGroups: readonly string[];
  readonly ttlSeconds: number;
}

interface DecisionCommon {
  readonly reasons: readonly string[];
  /** Free-form, copied to the decision event (e.g. the rule that fired). */
  readonly labels: Readonly<Record<string, unknown>>;
}

/**
 * The policy's answer as a discriminated union (after envoy ext_authz): a stage must handle
 * every `kind`, so none can forget the deny or approval case.
 */
export type Decision =
  | (DecisionCommon & {
      readonly kind: 'allow';
      readonly mask: MaskDirective;
      /** `maxUploadBytes`: the largest file this caller may upload (the gateway answers 413 above it). */
      readonly limits: {
        readonly maxTokens: number | undefined;
        readonly maxUploadBytes: number | undefined;
        readonly budgets: readonly Budget[];
      };
      readonly session: { readonly idleTimeoutSeconds: number | undefined };
    })
  | (DecisionCommon & {
      readonly kind: 'deny';
      /** Answer 404 as if the object did not exist (a refusal on ownership must not reveal that it exists). */
      readonly notFound: boolean;
    })
  | (DecisionCommon & { readonly kind: 'approval_required'; readonly approval: ApprovalRequirement });

/**
 * A usage budget the policy puts on a call: the key it counts under (the policy builds it, e.g.
 * "subject:alice", "group:engineering"), a fixed window, and at least one limit.
 */
export interface Budget {
  readonly key: string;
  readonly window: 'minute' | 'hour' | 'day' | 'month' | number;
  readonly tokens: number | undefined;
  readonly requests: number | undefined;
  readonly costUsd: number | undefined;
}

// The result is read by hand rather than with a schema library: it is checked on every call, and a
// zod parse of it cost ~2.5% of the gateway's CPU at 32 connections (a few lines of checks, far less).

/** Where and how a policy result breaks the contract; becomes SLUICE_ERR_POLICY_ERROR. */
class ContractViolation extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

type Fields = Readonly<Record<string, unknown>>;

const BUDGET_WINDOWS: ReadonlySet<unknown> = new Set(['minute', 'hour', 'day', 'month']);
const MASK_STYLES: ReadonlySet<unknown> = new Set(['placeholder', 'partial', 'hash']);
const MAX_BUDGETS = 16;
const MAX_WINDOW_SECONDS = 31_622_400;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string): Fields {
  if (!isObject(value)) throw new ContractViolation(path, 'expected an object');
  return value;
}

/** An optional object field: undefined when absent. */
function optionalObject(parent: Fields, key: string, path: string): Fields | undefined {
  const value = parent[key];
  return value === undefined ? undefined : object(value, `${path}${key}`);
}

function boolean(parent: Fields, key: string, path: string, fallback?: boolean): boolean {
  const value = parent[key];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'boolean') throw new ContractViolation(`${path}${key}`, 'expected a boolean');
  return value;
}

function string(parent: Fields, key: string, path: string, fallback?: string): string {
  const value = parent[key];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw new ContractViolation(`${path}${key}`, 'expected a string');
  return value;
}

function strings(parent: Fields, key: string, path: string): readonly string[] {
  const value = parent[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ContractViolation(`${path}${key}`, 'expected an array of strings');
  }
  return value as string[];
}

/** A number within [min, max] (an integer if `integer`), or undefined when absent. */
function optionalNumber(
  parent: Fields,
  key: string,
  path: string,
  range: { readonly min: number; readonly max?: number; readonly integer: boolean; readonly exclusiveMin?: boolean },
): number | undefined {
  const value = parent[key];
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!range.integer || Number.isSafeInteger(value)) &&
    (range.exclusiveMin ? value > range.min : value >= range.min) &&
    (range.max === undefined || value <= range.max);
  if (!ok) {
    const kind = range.integer ? 'an integer' : 'a number';
    const bound = range.exclusiveMin ? `above ${range.min}` : `from ${range.min}`;
    throw new ContractViolation(
      `${path}${key}`,
      `expected ${kind} ${bound}${range.max === undefined ? '' : ` to ${range.max}`}`,
    );
  }
  return value;
}

const POSITIVE_INT = { min: 0, exclusiveMin: true, integer: true } as const;

function readBudget(value: unknown, path: string): Budget {
  const b = object(value, path);
  const key = string(b, 'key', `${path}.`);
  if (key.length < 1 || key.length > 256) throw new ContractViolation(`${path}.key`, 'expected 1 to 256 characters');
  const window = b.window;
  const seconds =
    typeof window === 'number' && Number.isSafeInteger(window) && window >= 1 && window <= MAX_WINDOW_SECONDS;
  if (!BUDGET_WINDOWS.has(window) && !seconds) {
    throw new ContractViolation(
      `${path}.window`,
      `expected minute, hour, day, month or 1 to ${MAX_WINDOW_SECONDS} seconds`,
    );
  }
  const tokens = optionalNumber(b, 'tokens', `${path}.`, POSITIVE_INT);
  const requests = optionalNumber(b, 'requests', `${path}.`, POSITIVE_INT);
  const costUsd = optionalNumber(b, 'cost_usd', `${path}.`, { min: 0, exclusiveMin: true, integer: false });
  if (tokens === undefined && requests === undefined && costUsd === undefined) {
    throw new ContractViolation(path, 'a budget needs tokens, requests or cost_usd');
  }
  return { key, window: window as Budget['window'], tokens, requests, costUsd };
}

function readBudgets(limits: Fields): readonly Budget[] {
  const value = limits.budgets;
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ContractViolation('limits.budgets', 'expected an array');
  if (value.length > MAX_BUDGETS) throw new ContractViolation('limits.budgets', `expected at most ${MAX_BUDGETS}`);
  return value.map((b, i) => readBudget(b, `limits.budgets.${i}`));
}

function readMask(value: Fields | undefined): MaskDirective {
  if (value === undefined) return NO_MASK;
  const style = value.style ?? 'placeholder';
  if (!MASK_STYLES.has(style)) throw new ContractViolation('mask.style', 'expected placeholder, partial or hash');
  return {
    request: strings(value, 'request', 'mask.'),
    response: strings(value, 'response', 'mask.'),
    style: style as MaskDirective['style'],
    restore: boolean(value, 'restore', 'mask.', false),
  };
}

function readDecision(raw: unknown): Decision {
  const r = object(raw, '(root)');
  const allow = boolean(r, 'allow', '');
  const labels = r.labels === undefined ? {} : object(r.labels, 'labels');
  const common = { reasons: strings(r, 'reasons', ''), labels };
  const notFound = boolean(r, 'not_found', '', false);
  const approval = optionalObject(r, 'approval', '');
  const approvalRequired = approval !== undefined && boolean(approval, 'required', 'approval.');
  const approvalRequirement = approval && {
    reason: string(approval, 'reason', 'approval.', 'approval required by policy'),
    approverGroups: strings(approval, 'approver_groups', 'approval.'),
    ttlSeconds: optionalNumber(approval, 'ttl_seconds', 'approval.', POSITIVE_INT) ?? 3600,
  };
  const mask = readMask(optionalObject(r, 'mask', ''));
  const limits = optionalObject(r, 'limits', '') ?? {};
  const maxTokens = optionalNumber(limits, 'max_tokens', 'limits.', POSITIVE_INT);
  const maxUploadBytes = optionalNumber(limits, 'max_upload_bytes', 'limits.', { min: 0, integer: true });
  const budgets = readBudgets(limits);
  const session = optionalObject(r, 'session', '');
  const idleTimeoutSeconds = session && optionalNumber(session, 'idle_timeout_seconds', 'session.', POSITIVE_INT);
  // Every field is checked whatever the kind: a malformed part of a deny is still a broken policy.
  if (!allow) return { kind: 'deny', ...common, notFound };
  if (approvalRequired) return { kind: 'approval_required', ...common, approval: approvalRequirement! };
  return {
    kind: 'allow',
    ...common,
    mask,
    limits: { maxTokens, maxUploadBytes, budgets },
    session: { idleTimeoutSeconds },
  };
}

const NO_MASK: MaskDirective = Object.freeze({ request: [], response: [], style: 'placeholder', restore: false });

/**
 * Reads the `sluice/decision` result. Anything that does not match the contract is a policy
 * error, never an allow: a broken policy fails closed.
 */
export function parseDecision(raw: unknown): Decision {
  try {
    return readDecision(raw);
  } catch (err) {
    if (!(err instanceof ContractViolation)) throw err;
    throw new SluiceError(
      'SLUICE_ERR_POLICY_ERROR',
      `policy result does not match the decision contract (${err.path}: ${err.message}); request refused`,
    );
  }
}
