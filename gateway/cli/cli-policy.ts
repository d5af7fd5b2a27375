/**
 * `sluice policy impact --bundle NEW --audit FILE [--since DURATION] [--fail-on KINDS] [--key PUB] [--json]`:
 * replays recorded decisions through a candidate bundle and reports what would change; exits
 * 1 when a change of a --fail-on kind appears, or when fewer than --min-decisions (default 1)
 * decisions were replayed, so CI can gate a policy rollout on it and never pass vacuously. The
 * source is the JSONL file sink (a Kafka topic can be dumped to JSONL first).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadVerificationKey } from '../policy/bundle-verify.ts';
import { CHANGE_KINDS, replayAudit, type ChangeKind, type DecisionSummary, type ImpactReport } from './impact.ts';
import { prepareBundle } from '../policy/policy-loader.ts';
import { EVAL_USAGE, evalCommand } from './policy-eval.ts';

// A `\` at a line's end continues the same usage line (a template literal's line continuation adds nothing).
const USAGE = `usage: sluice policy impact --bundle NEW.tar.gz --audit AUDIT.jsonl [--since DURATION] \
[--fail-on KINDS] [--key PUBLIC.pem] [--examples N] [--min-decisions N] [--json]
  DURATION: e.g. 90m, 24h, 7d      KINDS: comma-separated, from ${CHANGE_KINDS.join(', ')}
  default --fail-on: allow_to_deny,deny_to_allow,new_approval,new_mask,new_error
  --min-decisions N: fail when fewer than N decisions were replayed (default 1)
`;

const DEFAULT_FAIL_ON: readonly ChangeKind[] = [
  'allow_to_deny',
  'deny_to_allow',
  'new_approval',
  'new_mask',
  'new_error',
];
const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Parses "90m", "24h", "7d" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2]!]! * 1000 : undefined;
}

function describe(s: DecisionSummary): string {
  const extra = [
    s.ruleIds.length > 0 ? `rule ${s.ruleIds.join(',')}` : '',
    s.masks.length ? `mask ${s.masks.join(',')}` : '',
    s.reasons.length ? `"${s.reasons.join('; ').slice(0, 120)}"` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return extra ? `${s.kind} (${extra})` : s.kind;
}

/** The human-readable report. */
export function formatReport(r: ImpactReport, failOn: readonly ChangeKind[], auditFile: string): string {
  const revisions =
    Object.entries(r.recordedRevisions)
      .map(([rev, n]) => `${rev} ×${n}`)
      .join(', ') || 'none';
  const changed = r.replayed - r.unchanged;
  const out = [
    `policy impact of bundle revision ${r.candidateRevision} on ${auditFile}`,
    `  replayed ${r.replayed} decisions (recorded under: ${revisions}); unchanged ${r.unchanged}, changed ${changed}`,
    `  skipped: ${r.skipped.noInput} without input (refused before a decision), ` +
      `${r.skipped.beforeSince} before --since, ${r.skipped.unreadable} unreadable`,
    'changes:',
    ...CHANGE_KINDS.map(
      (k) =>
        `  ${k.padEnd(17)} ${String(r.counts[k]).padStart(6)}` +
        (r.counts[k] > 0 && failOn.includes(k) ? '   <- fails the gate' : ''),
    ),
  ];
  const rules = Object.entries(r.byRule);
  if (rules.length > 0) {
    out.push('by rule (labels.rule, refined by labels.checks / labels.approval_rules):');
    for (const [rule, kinds] of rules)
      out.push(
        `  ${rule}: ${Object.entries(kinds)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      );
  }
  for (const [kind, examples] of Object.entries(r.examples)) {
    out.push(`examples of ${kind}:`);
    for (const e of examples ?? [])
      out.push(`  ${e.timestamp} ${e.subject ?? '-'} ${e.decisionId}: ${describe(e.before)} -> ${describe(e.after)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Runs `sluice policy <args>`; 0 = no gating change, 1 = gating changes, 2 = usage error. */
export async function policyCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'eval') return evalCommand(rest);
  if (sub !== 'impact') {
    const usage = `${USAGE}${EVAL_USAGE}`;
    process.stderr.write(sub === undefined ? usage : `sluice policy: unknown subcommand "${sub}"\n${usage}`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      bundle: { type: 'string' },
      audit: { type: 'string' },
      since: { type: 'string' },
      'fail-on': { type: 'string' },
      key: { type: 'string' },
      examples: { type: 'string', default: '5' },
      'min-decisions': { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const failOn =
    values['fail-on'] === undefined
      ? DEFAULT_FAIL_ON
      : values['fail-on']
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const unknown = failOn.filter((k) => !(CHANGE_KINDS as readonly string[]).includes(k));
  const sinceMs = values.since === undefined ? undefined : parseDuration(values.since);
  const examples = Number(values.examples);
  const minDecisions = Number(values['min-decisions']);
  const badCount = !Number.isInteger(examples) || examples < 0 || !Number.isInteger(minDecisions) || minDecisions < 0;
  if (
    !values.bundle ||
    !values.audit ||
    unknown.length > 0 ||
    (values.since !== undefined && sinceMs === undefined) ||
    badCount
  ) {
    const why =
      unknown.length > 0
        ? `unknown --fail-on kind(s): ${unknown.join(', ')}\n`
        : values.since !== undefined && sinceMs === undefined
          ? `bad --since "${values.since}"\n`
          : '';
    process.stderr.write(`sluice policy impact: ${why}${USAGE}`);
    return 2;
  }
  const key = values.key ? await loadVerificationKey(values.key) : undefined;
  const { engine } = await prepareBundle(await readFile(values.bundle), values.bundle, key);
  const report = await replayAudit({
    engine,
    auditFile: values.audit,
    maxExamples: examples,
    ...(sinceMs !== undefined ? { since: new Date(Date.now() - sinceMs) } : {}),
  });
  const gating = (failOn as ChangeKind[]).filter((k) => report.counts[k] > 0).map((k) => `${k} ${report.counts[k]}`);
  // A gate that checked nothing must not pass: an empty sample, or a --since older than every decision.
  if (report.replayed < minDecisions)
    gating.push(`replayed ${report.replayed} decision(s), fewer than --min-decisions ${minDecisions}`);
  if (values.json)
    process.stdout.write(
      `${JSON.stringify({ ...report, failOn, minDecisions, pass: gating.length === 0 }, null, 2)}\n`,
    );
  else
    process.stdout.write(
      `${formatReport(report, failOn as ChangeKind[], values.audit)}` +
        `result: ${gating.length === 0 ? 'PASS' : `FAIL (${gating.join(', ')})`}\n`,
    );
  return gating.length === 0 ? 0 : 1;
}
