import { z } from 'zod';
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
      readonly limits: { readonly maxTokens: number | undefined; readonly maxUploadBytes: number | undefined };
      readonly session: { readonly idleTimeoutSeconds: number | undefined };
    })
  | (DecisionCommon & {
      readonly kind: 'deny';
      /** Answer 404 as if the object did not exist (a refusal on ownership must not reveal that it exists). */
      readonly notFound: boolean;
    })
  | (DecisionCommon & { readonly kind: 'approval_required'; readonly approval: ApprovalRequirement });

const rawDecisionSchema = z.object({
  allow: z.boolean(),
  reasons: z.array(z.string()).default([]),
  not_found: z.boolean().default(false),
  approval: z
    .object({
      required: z.boolean(),
      reason: z.string().default('approval required by policy'),
      approver_groups: z.array(z.string()).default([]),
      ttl_seconds: z.number().int().positive().default(3600),
    })
    .optional(),
  mask: z
    .object({
      request: z.array(z.string()).default([]),
      response: z.array(z.string()).default([]),
      style: z.enum(['placeholder', 'partial', 'hash']).default('placeholder'),
      restore: z.boolean().default(false),
    })
    .optional(),
  limits: z
    .object({
      max_tokens: z.number().int().positive().optional(),
      max_upload_bytes: z.number().int().nonnegative().optional(),
    })
    .passthrough()
    .optional(),
  session: z.object({ idle_timeout_seconds: z.number().int().positive().optional() }).optional(),
  labels: z.record(z.string(), z.unknown()).default({}),
});

const NO_MASK: MaskDirective = Object.freeze({ request: [], response: [], style: 'placeholder', restore: false });

/**
 * Reads the `sluice/decision` result. Anything that does not match the contract is a policy
 * error, never an allow: a broken policy fails closed.
 */
export function parseDecision(raw: unknown): Decision {
  const parsed = rawDecisionSchema.safeParse(raw);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new SluiceError(
      'SLUICE_ERR_POLICY_ERROR',
      `policy result does not match the decision contract (${where}); request refused`,
    );
  }
  const r = parsed.data;
  const common = { reasons: r.reasons, labels: r.labels };
  if (!r.allow) return { kind: 'deny', ...common, notFound: r.not_found };
  if (r.approval?.required) {
    return {
      kind: 'approval_required',
      ...common,
      approval: {
        reason: r.approval.reason,
        approverGroups: r.approval.approver_groups,
        ttlSeconds: r.approval.ttl_seconds,
      },
    };
  }
  return {
    kind: 'allow',
    ...common,
    mask: r.mask ?? NO_MASK,
    limits: { maxTokens: r.limits?.max_tokens, maxUploadBytes: r.limits?.max_upload_bytes },
    session: { idleTimeoutSeconds: r.session?.idle_timeout_seconds },
  };
}
