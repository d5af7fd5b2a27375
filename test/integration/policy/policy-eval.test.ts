/**
 * `sluice policy eval`: one recorded decision replayed through a candidate bundle as the gateway
 * would decide it with that bundle: the candidate's own entity detectors run on the recorded
 * (already masked) prompt, so a rule on an entity only the candidate knows fires on replay too.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { policyCommand } from '../../../gateway/cli/cli-policy.ts';
import { replayAudit } from '../../../gateway/cli/impact.ts';
import { buildBundle } from '../../../gateway/policy/bundle-build.ts';
import { PolicyEngine } from '../../../gateway/policy/wasm-engine.ts';
import { bundleOf, policyInput, tempDir, writePolicies } from '../../helpers/policy-fixtures.ts';

const ALLOW = 'decision := {"allow": true, "reasons": [], "labels": {"rule": "grant"}}';

// The candidate knows a project-code entity and holds any prompt that carries one for a human.
const CANDIDATE = `decision := {"allow": true, "reasons": [], "labels": {"rule": "project_codes"},
	"approval": {"required": true, "reason": "project code in prompt", "approver_groups": ["leads"]}} if {
	input.request.findings.PROJECT_CODE > 0
} else := {"allow": true, "reasons": [], "labels": {"rule": "grant"}}`;
// sluice/data.json is data.sluice in the bundle.
const CANDIDATE_DATA = {
  masking: { custom_entities: [{ type: 'PROJECT_CODE', pattern: 'PRJ-[0-9]{4}', max_length: 8 }] },
};

let audit: string;
let candidate: string;

beforeAll(async () => {
  const current = await PolicyEngine.fromBundle(await bundleOf(ALLOW, 'current'));
  const input = policyInput({ request: { text: 'summarise the status of PRJ-4711 for the board' } });
  const { result, input: evaluated } = current.evaluateWithResult(input);
  const event = {
    kind: 'decision',
    decision_id: 'dec_prj',
    timestamp: new Date().toISOString(),
    input: evaluated,
    result,
  };
  audit = join(await tempDir(), 'audit.jsonl');
  await writeFile(audit, `${JSON.stringify(event)}\n`);
  const dir = await writePolicies({
    'sluice/decision.rego': `package sluice\n\n${CANDIDATE}\n`,
    'sluice/data.json': JSON.stringify(CANDIDATE_DATA),
  });
  candidate = (
    await buildBundle({ policiesDir: dir, outFile: join(await tempDir(), 'c.tar.gz'), revision: 'candidate' })
  ).file;
});

afterEach(() => vi.restoreAllMocks());

function captured(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  return { out: () => out, err: () => err };
}

describe('sluice policy eval', () => {
  it(
    'decides a recorded call as the candidate would at the gateway: ' + 'its own entities found in the prompt',
    async () => {
      const io = captured();
      const code = await policyCommand(['eval', '--bundle', candidate, '--audit', audit, '--decision-id', 'dec_prj']);
      expect(io.err()).toBe('');
      expect(code).toBe(0);
      expect(io.out()).toContain('decision: approval_required (bundle revision candidate)');
      expect(io.out()).toContain('rule: project_codes');
      expect(io.out()).toContain('approval: project code in prompt (approvers: leads)');
    },
  );

  it('prints the rebuilt input with --json: the new entity counted and masked', async () => {
    const io = captured();
    expect(
      await policyCommand(['eval', '--bundle', candidate, '--audit', audit, '--decision-id', 'dec_prj', '--json']),
    ).toBe(0);
    const printed = JSON.parse(io.out()) as {
      decision: { kind: string };
      input: { request: { findings: object; text: string } };
    };
    expect(printed.decision.kind).toBe('approval_required');
    expect(printed.input.request.findings).toEqual({ PROJECT_CODE: 1 });
    expect(printed.input.request.text).toBe('summarise the status of [PROJECT_CODE] for the board');
  });

  it('says so, and exits 1, for a decision id the audit file does not hold', async () => {
    const io = captured();
    expect(await policyCommand(['eval', '--bundle', candidate, '--audit', audit, '--decision-id', 'dec_nope'])).toBe(1);
    expect(io.err()).toContain('no decision input for dec_nope');
  });

  it('refuses ambiguous arguments with its usage (exit 2)', async () => {
    const io = captured();
    expect(
      await policyCommand(['eval', '--bundle', candidate, '--input', audit, '--audit', audit, '--decision-id', 'x']),
    ).toBe(2);
    expect(io.err()).toContain('usage: sluice policy eval');
  });

  it('is the path policy impact replays through: the same call counts as a new approval there', async () => {
    const report = await replayAudit({ engine: await PolicyEngine.fromBundle(candidate), auditFile: audit });
    expect(report.replayed).toBe(1);
    expect(report.counts.new_approval).toBe(1);
    expect(report.byRule).toEqual({ project_codes: { new_approval: 1 } });
  });
});
