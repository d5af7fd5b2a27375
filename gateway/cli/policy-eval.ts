/**
 * `sluice policy eval --bundle B (--input FILE | --audit FILE --decision-id ID) [--key PUB] [--json]`:
 * one decision replayed through bundle B exactly as `policy impact` replays it (the input rebuilt
 * for B's detectors and text rules), printed with what decided it. For an author checking one
 * recorded call against a change, before running impact over the whole trail.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Decision } from '../policy/decision.ts';
import type { PolicyInput } from '../policy/input.ts';
import { loadVerificationKey } from '../policy/bundle-verify.ts';
import { prepareBundle } from '../policy/policy-loader.ts';
import { recordedDecisions } from './recorded-decisions.ts';
import { rebuildInput } from './replay-input.ts';

export const EVAL_USAGE = `usage: sluice policy eval --bundle B.tar.gz (--input INPUT.json | --audit AUDIT.jsonl \
--decision-id ID) [--key PUBLIC.pem] [--json]
`;

/** The recorded input of decision `id` in a JSONL audit file; undefined when absent or refused before a decision. */
async function recordedInput(auditFile: string, id: string): Promise<PolicyInput | undefined> {
  for await (const { event, input } of recordedDecisions(auditFile)) {
    if (event.decision_id === id) return input ?? undefined;
  }
  return undefined;
}

/** What decided the call, in a few lines: the decision, its rule and reasons, masks and limits. */
export function formatDecision(d: Decision, revision: string): string {
  const lines = [`decision: ${d.kind} (bundle revision ${revision})`];
  if (typeof d.labels.rule === 'string') lines.push(`  rule: ${d.labels.rule}`);
  for (const reason of d.reasons) lines.push(`  reason: ${reason}`);
  if (d.kind === 'allow') {
    if (d.mask.request.length > 0) lines.push(`  mask request: ${d.mask.request.join(', ')}`);
    if (d.mask.response.length > 0) lines.push(`  mask response: ${d.mask.response.join(', ')}`);
    if (d.limits.maxTokens !== undefined) lines.push(`  limit max_tokens: ${d.limits.maxTokens}`);
  }
  if (d.kind === 'approval_required') {
    lines.push(`  approval: ${d.approval.reason} (approvers: ${d.approval.approverGroups.join(', ') || 'none'})`);
  }
  const labels = Object.entries(d.labels).filter(([k]) => k !== 'rule');
  if (labels.length > 0) lines.push(`  labels: ${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** Runs `sluice policy eval <args>`: 0 printed a decision, 1 no input found or evaluated, 2 usage error. */
export async function evalCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bundle: { type: 'string' },
      input: { type: 'string' },
      audit: { type: 'string' },
      'decision-id': { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const fromAudit = values.audit !== undefined && values['decision-id'] !== undefined;
  if (!values.bundle || fromAudit === (values.input !== undefined)) {
    process.stderr.write(
      `sluice policy eval: give --bundle and either --input or --audit with --decision-id\n${EVAL_USAGE}`,
    );
    return 2;
  }
  const recorded = fromAudit
    ? await recordedInput(values.audit!, values['decision-id']!)
    : (JSON.parse(await readFile(values.input!, 'utf8')) as PolicyInput);
  if (!recorded?.request) {
    process.stderr.write(
      `sluice policy eval: no decision input for ${values['decision-id'] ?? values.input} ` +
        '(not in the file, or refused before a decision was made)\n',
    );
    return 1;
  }
  const key = values.key ? await loadVerificationKey(values.key) : undefined;
  const { engine } = await prepareBundle(await readFile(values.bundle), values.bundle, key);
  const { decision, input } = engine.evaluateWithResult(rebuildInput(engine, recorded));
  if (values.json) process.stdout.write(`${JSON.stringify({ revision: engine.revision, decision, input }, null, 2)}\n`);
  else process.stdout.write(formatDecision(decision, engine.revision));
  return 0;
}
