/**
 * `sluice policy impact`: recorded decisions replayed through a candidate bundle built from a
 * changed copy of policies/; every kind of change is counted per rule, with examples, and the
 * exit code gates on the chosen kinds.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDuration, policyCommand } from '../../../gateway/cli/cli-policy.ts';
import {
  classify,
  replayAudit,
  ruleIdsOf,
  type DecisionSummary,
  type ImpactReport,
} from '../../../gateway/cli/impact.ts';
import { PolicyEngine } from '../../../gateway/policy/wasm-engine.ts';
import { bundleOf, policyInput, tempDir, tool, type PolicyInputOverrides } from '../../helpers/policy-fixtures.ts';

let audit: string;
let candidate: string;
let same: string;

/** A decision event as the gateway records it, decided by the shipped bundle. */
function recorded(
  engine: PolicyEngine,
  n: number,
  overrides: PolicyInputOverrides,
  timestamp = new Date().toISOString(),
): string {
  const input = policyInput(overrides);
  let result: unknown = null;
  try {
    result = engine.evaluateWithResult(input).result;
  } catch {
    // recorded as a refusal without a result
  }
  return JSON.stringify({
    kind: 'decision',
    decision_id: `dec_${n}`,
    timestamp,
    subject: input.identity.sub,
    input,
    result,
    bundles: { sluice: { revision: engine.revision } },
    outcome: 'allow',
  });
}

// Own small policies, so the test does not move when policies/ does.
const CURRENT = `decision := {"allow": false, "reasons": ["no group"], "labels": {"rule": "deny"}} if {
	input.identity.groups[0] == "marketing"
} else := {"allow": true, "reasons": [], "labels": {"rule": "grant"}}`;

// The grant that asks for approval: split out only to keep the lines below 120 columns.
const GRANT_WITH_APPROVAL =
  '{"allow": true, "reasons": [], "labels": {"rule": "grant"}, "mask": {"request": ["EMAIL"]}, ' +
  '"approval": {"required": true, "reason": "email"}}';

const CANDIDATE = `decision := {"allow": false, "reasons": ["no group"], "labels": {"rule": "deny"}} if {
	input.identity.groups[0] == "marketing"
} else := {"allow": false, "reasons": ["ci is frozen"], "labels": {"rule": "freeze"}} if {
	"ci" in input.identity.groups
} else := {"allow": false, "reasons": ["bash is gone"], "labels": {"rule": "tools"}} if {
	some t in input.request.tools
	t.name == "bash"
} else := ${GRANT_WITH_APPROVAL} if {
	input.request.findings.EMAIL > 1
} else := {"allow": true, "reasons": [], "labels": {"rule": "grant"}, "mask": {"request": ["EMAIL"]}}`;

beforeAll(async () => {
  const current = await PolicyEngine.fromBundle(await bundleOf(CURRENT, 'current'));
  const lines = [
    recorded(current, 1, { identity: { groups: ['engineering'] } }), // a new EMAIL mask, but no EMAIL in it: unchanged
    recorded(current, 2, { identity: { groups: ['ci'] } }), // → deny (freeze)
    // → deny (tools)
    recorded(current, 3, { identity: { groups: ['engineering'] }, request: { tools: [tool('bash')] } }),
    recorded(current, 4, { identity: { groups: ['engineering'] }, request: { findings: { EMAIL: 2 } } }), // → approval
    // → new mask (EMAIL)
    recorded(current, 8, { identity: { groups: ['engineering'] }, request: { findings: { EMAIL: 1 } } }),
    recorded(current, 5, { identity: { groups: ['marketing'] } }), // deny before and after: unchanged
    recorded(current, 6, { identity: { groups: ['engineering'] } }, '2020-01-01T00:00:00.000Z'), // before --since
    JSON.stringify({
      kind: 'decision',
      decision_id: 'dec_7',
      timestamp: new Date().toISOString(),
      input: null,
      result: null,
      outcome: 'error',
    }),
    JSON.stringify({ kind: 'exchange', decision_id: 'dec_1', timestamp: new Date().toISOString() }),
    '{ not json',
  ];
  audit = join(await tempDir(), 'audit.jsonl');
  await writeFile(audit, `${lines.join('\n')}\n`);
  candidate = await bundleOf(CANDIDATE, 'candidate');
  same = await bundleOf(CURRENT, 'current-again');
});

afterEach(() => vi.restoreAllMocks());

/** A decision summary of `kind`, with `extra` fields, for classify. */
function summary(kind: 'allow' | 'deny' | 'approval_required' | 'error', extra: object = {}): DecisionSummary {
  return { kind, reasons: [], rule: null, ruleIds: [], masks: [], maxTokens: null, ...extra };
}

describe('replayAudit', () => {
  it('reports each change by kind and rule, with examples, and skips what cannot be replayed', async () => {
    const r: ImpactReport = await replayAudit({
      engine: await PolicyEngine.fromBundle(candidate),
      auditFile: audit,
      since: new Date(Date.now() - 3_600_000),
    });
    expect(r).toMatchObject({
      candidateRevision: 'candidate',
      recordedRevisions: { current: 6 },
      replayed: 6,
      unchanged: 2,
      skipped: { noInput: 1, beforeSince: 1, unreadable: 1 },
    });
    expect(r.counts).toEqual({
      allow_to_deny: 2,
      deny_to_allow: 0,
      new_approval: 1,
      approval_removed: 0,
      new_mask: 1,
      mask_removed: 0,
      new_error: 0,
      other: 0,
    });
    expect(r.byRule).toEqual({
      freeze: { allow_to_deny: 1 },
      tools: { allow_to_deny: 1 },
      grant: { new_mask: 1, new_approval: 1 },
    });
    expect(r.examples.allow_to_deny!.map((e) => [e.decisionId, e.after.reasons])).toEqual([
      ['dec_2', ['ci is frozen']],
      ['dec_3', ['bash is gone']],
    ]);
    expect(r.examples.new_approval![0]).toMatchObject({
      decisionId: 'dec_4',
      before: { kind: 'allow' },
      after: { kind: 'approval_required', reasons: [] },
    });
  });

  it('finds nothing to report when the candidate is the recorded bundle', async () => {
    const r = await replayAudit({ engine: await PolicyEngine.fromBundle(same), auditFile: audit });
    expect(r.replayed).toBe(7);
    expect(r.unchanged).toBe(7);
  });

  it('reports a change under the stable id of each Rego rule behind it (deny/tool, approval/keyword)', async () => {
    const deny =
      'decision := {"allow": false, "reasons": ["r"], "labels": {"rule": "deny", "checks": ["model", "tool"]}}';
    const r = await replayAudit({
      engine: await PolicyEngine.fromBundle(await bundleOf(deny, 'strict')),
      auditFile: audit,
    });
    expect(Object.keys(r.byRule).sort()).toEqual(['deny/model', 'deny/tool']);
    expect(ruleIdsOf({ rule: 'approval', approval_rules: ['keyword', 'token_size'] })).toEqual([
      'approval/keyword',
      'approval/token_size',
    ]);
    expect(ruleIdsOf({ rule: 'grant', groups: ['a'] })).toEqual(['grant']);
    expect(ruleIdsOf({})).toEqual([]);
  });

  it('classifies reversals, removals, errors and other changes', () => {
    const s = summary;
    expect(classify(s('deny'), s('approval_required'))).toEqual(['deny_to_allow', 'new_approval']);
    expect(classify(s('approval_required'), s('allow'))).toEqual(['approval_removed']);
    expect(classify(s('allow', { masks: ['request:EMAIL'] }), s('allow'))).toEqual(['mask_removed']);
    expect(classify(s('allow'), s('error'))).toEqual(['new_error']);
    expect(classify(s('allow', { maxTokens: 10 }), s('allow', { maxTokens: 20 }))).toEqual(['other']);
    expect(classify(s('deny', { rule: 'a' }), s('deny', { rule: 'b' }))).toEqual([]);
  });

  it('counts a new request mask only when the prompt held that type; a new response mask always', () => {
    const s = summary;
    const withMask = s('allow', { masks: ['request:EMPLOYEE_ID'] });
    expect(classify(s('allow'), withMask, {})).toEqual([]);
    expect(classify(s('allow'), withMask, { EMAIL: 2 })).toEqual([]);
    expect(classify(s('allow'), withMask, { EMPLOYEE_ID: 1 })).toEqual(['new_mask']);
    expect(classify(s('allow'), s('allow', { masks: ['response:EMPLOYEE_ID'] }), {})).toEqual(['new_mask']);
  });
});

describe('sluice policy impact', () => {
  function capture(): string[] {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((c) => (out.push(String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c) => (out.push(String(c)), true));
    return out;
  }

  it('exits 1 on gating changes and prints counts, rules and examples', async () => {
    const out = capture();
    expect(await policyCommand(['impact', '--bundle', candidate, '--audit', audit, '--since', '24h'])).toBe(1);
    const text = out.join('');
    expect(text).toMatch(/allow_to_deny +2 {3}<- fails the gate/);
    expect(text).toMatch(
      new RegExp(
        /by rule \(labels\.rule, refined by labels\.checks \/ labels\.approval_rules\):\n/.source +
          / {2}freeze: allow_to_deny 1\n {2}tools: allow_to_deny 1\n {2}grant: new_approval 1, new_mask 1\n/.source,
      ),
    );
    expect(text).toMatch(/dec_2: allow \(rule grant\) -> deny \(rule freeze, "ci is frozen"\)/);
    expect(text).toMatch(/result: FAIL \(allow_to_deny 2, new_approval 1, new_mask 1\)/);
  });

  it('passes when only kinds outside --fail-on change; --json is machine-readable', async () => {
    const out = capture();
    expect(
      await policyCommand(['impact', '--bundle', candidate, '--audit', audit, '--fail-on', 'deny_to_allow', '--json']),
    ).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({
      pass: true,
      failOn: ['deny_to_allow'],
      counts: { allow_to_deny: 2 },
    });
  });

  it('fails a gate that checked nothing: an empty audit, or --since older than every decision', async () => {
    const out = capture();
    const empty = join(await tempDir('sluice-impact-empty-'), 'empty.jsonl');
    await writeFile(empty, '');
    expect(await policyCommand(['impact', '--bundle', same, '--audit', empty])).toBe(1);
    expect(out.join('')).toMatch(/result: FAIL \(replayed 0 decision\(s\), fewer than --min-decisions 1\)/);
    expect(await policyCommand(['impact', '--bundle', same, '--audit', '/dev/null'])).toBe(1);
    const old = join(await tempDir('sluice-impact-old-'), 'old.jsonl');
    await writeFile(
      old,
      (await readFile(audit, 'utf8')).replace(/"timestamp":"[^"]+"/g, '"timestamp":"2020-01-01T00:00:00.000Z"'),
    );
    expect(await policyCommand(['impact', '--bundle', same, '--audit', old])).toBe(0);
    expect(await policyCommand(['impact', '--bundle', same, '--audit', old, '--since', '7d'])).toBe(1);
    // Enough decisions and no change: the gate passes; asking for more than there are fails it.
    expect(await policyCommand(['impact', '--bundle', same, '--audit', audit])).toBe(0);
    expect(await policyCommand(['impact', '--bundle', same, '--audit', audit, '--min-decisions', '1000'])).toBe(1);
    expect(await policyCommand(['impact', '--bundle', same, '--audit', audit, '--min-decisions', 'x'])).toBe(2);
  });

  it('answers usage errors with exit code 2', async () => {
    capture();
    expect(await policyCommand(['impact', '--bundle', candidate])).toBe(2);
    expect(await policyCommand(['impact', '--bundle', candidate, '--audit', audit, '--fail-on', 'everything'])).toBe(2);
    expect(await policyCommand(['impact', '--bundle', candidate, '--audit', audit, '--since', 'yesterday'])).toBe(2);
    expect(await policyCommand(['rollout'])).toBe(2);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1.5h')).toBeUndefined();
  });
});
