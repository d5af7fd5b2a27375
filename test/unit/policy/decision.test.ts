import { describe, expect, it } from 'vitest';
import { parseDecision } from '../../../gateway/policy/decision.ts';
import { SluiceError } from '../../../gateway/errors.ts';

const budget = { key: 'group:engineering', window: 'day', tokens: 1000 };

describe('parseDecision: the sluice/decision contract', () => {
  it('fills the defaults of a bare allow', () => {
    expect(parseDecision({ allow: true })).toEqual({
      kind: 'allow',
      reasons: [],
      labels: {},
      mask: { request: [], response: [], style: 'placeholder', restore: false },
      limits: { maxTokens: undefined, maxUploadBytes: undefined, budgets: [] },
      session: { idleTimeoutSeconds: undefined },
    });
  });

  it('reads every field of an allow', () => {
    const decision = parseDecision({
      allow: true,
      reasons: ['ok'],
      labels: { rule: 'grant', groups: ['engineering'] },
      mask: { request: ['email'], response: ['aws_key'], style: 'hash', restore: true },
      limits: {
        max_tokens: 4096,
        max_upload_bytes: 0,
        budgets: [budget, { key: 'subject:alice', window: 3600, requests: 5, cost_usd: 0.5 }],
        future_limit: 'kept out',
      },
      session: { idle_timeout_seconds: 900 },
      unknown_field: true,
    });
    expect(decision).toEqual({
      kind: 'allow',
      reasons: ['ok'],
      labels: { rule: 'grant', groups: ['engineering'] },
      mask: { request: ['email'], response: ['aws_key'], style: 'hash', restore: true },
      limits: {
        maxTokens: 4096,
        maxUploadBytes: 0,
        budgets: [
          { key: 'group:engineering', window: 'day', tokens: 1000, requests: undefined, costUsd: undefined },
          { key: 'subject:alice', window: 3600, tokens: undefined, requests: 5, costUsd: 0.5 },
        ],
      },
      session: { idleTimeoutSeconds: 900 },
    });
  });

  it('reads a deny, with not_found', () => {
    expect(parseDecision({ allow: false, reasons: ['no'], not_found: true })).toEqual({
      kind: 'deny',
      reasons: ['no'],
      labels: {},
      notFound: true,
    });
    expect(parseDecision({ allow: false })).toMatchObject({ kind: 'deny', notFound: false });
  });

  it('reads an approval, with its defaults', () => {
    expect(parseDecision({ allow: true, approval: { required: true } })).toEqual({
      kind: 'approval_required',
      reasons: [],
      labels: {},
      approval: { reason: 'approval required by policy', approverGroups: [], ttlSeconds: 3600 },
    });
    const held = parseDecision({
      allow: true,
      approval: { required: true, reason: 'secret', approver_groups: ['security'], ttl_seconds: 60 },
    });
    expect(held).toMatchObject({ approval: { reason: 'secret', approverGroups: ['security'], ttlSeconds: 60 } });
    expect(parseDecision({ allow: true, approval: { required: false } }).kind).toBe('allow');
  });

  const broken: ReadonlyArray<readonly [string, unknown, string]> = [
    ['not an object', ['allow'], '(root): expected an object'],
    ['null', null, '(root): expected an object'],
    ['no allow', {}, 'allow: expected a boolean'],
    ['allow as a string', { allow: 'true' }, 'allow: expected a boolean'],
    ['reasons not strings', { allow: true, reasons: [1] }, 'reasons: expected an array of strings'],
    ['labels an array', { allow: true, labels: [] }, 'labels: expected an object'],
    ['not_found not a boolean', { allow: false, not_found: 1 }, 'not_found: expected a boolean'],
    ['approval without required', { allow: true, approval: {} }, 'approval.required: expected a boolean'],
    ['approval ttl of 0', { allow: true, approval: { required: true, ttl_seconds: 0 } }, 'approval.ttl_seconds'],
    ['approval null', { allow: true, approval: null }, 'approval: expected an object'],
    ['unknown mask style', { allow: true, mask: { style: 'blur' } }, 'mask.style'],
    ['mask types not strings', { allow: true, mask: { request: 'email' } }, 'mask.request'],
    ['mask restore a string', { allow: true, mask: { restore: 'yes' } }, 'mask.restore: expected a boolean'],
    ['max_tokens a fraction', { allow: true, limits: { max_tokens: 1.5 } }, 'limits.max_tokens'],
    ['max_tokens 0', { allow: true, limits: { max_tokens: 0 } }, 'limits.max_tokens'],
    ['negative upload limit', { allow: true, limits: { max_upload_bytes: -1 } }, 'limits.max_upload_bytes'],
    ['budgets not an array', { allow: true, limits: { budgets: budget } }, 'limits.budgets: expected an array'],
    ['17 budgets', { allow: true, limits: { budgets: Array(17).fill(budget) } }, 'limits.budgets: expected at most'],
    ['a budget without limits', { allow: true, limits: { budgets: [{ key: 'k', window: 'day' }] } }, 'needs tokens'],
    ['an empty budget key', { allow: true, limits: { budgets: [{ ...budget, key: '' }] } }, 'limits.budgets.0.key'],
    ['a long budget key', { allow: true, limits: { budgets: [{ ...budget, key: 'k'.repeat(257) }] } }, '.key'],
    ['an unknown window', { allow: true, limits: { budgets: [{ ...budget, window: 'week' }] } }, '.window'],
    ['a window of 0 s', { allow: true, limits: { budgets: [{ ...budget, window: 0 }] } }, '.window'],
    ['a window over a year', { allow: true, limits: { budgets: [{ ...budget, window: 31_622_401 }] } }, '.window'],
    ['no window', { allow: true, limits: { budgets: [{ key: 'k', tokens: 1 }] } }, 'limits.budgets.0.window'],
    ['negative cost', { allow: true, limits: { budgets: [{ ...budget, cost_usd: -1 }] } }, '.cost_usd'],
    ['tokens a string', { allow: true, limits: { budgets: [{ ...budget, tokens: '5' }] } }, '.tokens'],
    ['idle timeout 0', { allow: true, session: { idle_timeout_seconds: 0 } }, 'session.idle_timeout_seconds'],
    ['a malformed part of a deny', { allow: false, mask: { style: 'blur' } }, 'mask.style'],
  ];

  it.each(broken)('refuses %s as a policy error naming the field', (_name, raw, where) => {
    let thrown: unknown;
    try {
      parseDecision(raw);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SluiceError);
    expect((thrown as SluiceError).code).toBe('SLUICE_ERR_POLICY_ERROR');
    expect((thrown as Error).message).toContain('does not match the decision contract');
    expect((thrown as Error).message).toContain(where);
  });
});
