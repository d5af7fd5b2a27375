/**
 * Impact before rollout: replays the decision inputs recorded in a JSONL audit file through a
 * candidate engine and classifies every decision that would change. The recorded `now` is part
 * of each input, so time-based rules replay as they were decided.
 */
import { parseDecision, type Decision } from '../policy/decision.ts';
import type { PolicyEngine } from '../policy/wasm-engine.ts';
import { recordedDecisions } from './recorded-decisions.ts';
import { rebuildInput } from './replay-input.ts';

/** The kinds of change a replay reports; a decision may show several (deny → approval is two). */
export const CHANGE_KINDS = [
  'allow_to_deny',
  'deny_to_allow',
  'new_approval',
  'approval_removed',
  'new_mask',
  'mask_removed',
  'new_error',
  'other',
] as const;

/** One of CHANGE_KINDS. */
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** A decision reduced to what a reviewer compares. */
export interface DecisionSummary {
  readonly kind: Decision['kind'] | 'error';
  readonly reasons: readonly string[];
  readonly rule: string | null;
  /** Stable ids of the Rego rules that decided it: `rule`, refined by `labels.checks` / `labels.approval_rules`. */
  readonly ruleIds: readonly string[];
  /** "request:EMAIL", "response:SECRET"… for allowed calls. */
  readonly masks: readonly string[];
  readonly maxTokens: number | null;
}

/** One recorded decision that the candidate decides differently. */
export interface ImpactChange {
  readonly decisionId: string;
  readonly timestamp: string;
  readonly subject: string | null;
  readonly changes: readonly ChangeKind[];
  readonly before: DecisionSummary;
  readonly after: DecisionSummary;
}

/** The whole replay. */
export interface ImpactReport {
  readonly candidateRevision: string;
  readonly recordedRevisions: Record<string, number>;
  readonly replayed: number;
  readonly unchanged: number;
  readonly skipped: { noInput: number; beforeSince: number; unreadable: number };
  readonly counts: Record<ChangeKind, number>;
  /** Per rule id (the candidate's, else the recorded one's; see ruleIdsOf): change kind → count. */
  readonly byRule: Record<string, Partial<Record<ChangeKind, number>>>;
  readonly examples: Partial<Record<ChangeKind, ImpactChange[]>>;
}

/**
 * The stable ids of the rules behind a decision: `labels.rule`, and for each entry of
 * `labels.checks` (the deny checks that failed) or `labels.approval_rules` (the triggers that asked
 * for a human) `rule/entry`, e.g. `deny/tool`, `approval/keyword`. A change is reported under each.
 */
export function ruleIdsOf(labels: Readonly<Record<string, unknown>>): string[] {
  const rule = typeof labels.rule === 'string' ? labels.rule : undefined;
  if (rule === undefined) return [];
  const parts = [labels.checks, labels.approval_rules].flatMap((v) => (Array.isArray(v) ? v : []));
  const refined = parts.filter((p): p is string => typeof p === 'string').map((p) => `${rule}/${p}`);
  return refined.length > 0 ? refined : [rule];
}

function summarize(d: Decision): DecisionSummary {
  const rule = typeof d.labels.rule === 'string' ? d.labels.rule : null;
  const masks =
    d.kind === 'allow'
      ? [...d.mask.request.map((t) => `request:${t}`), ...d.mask.response.map((t) => `response:${t}`)].sort()
      : [];
  return {
    kind: d.kind,
    reasons: [...d.reasons].sort(),
    rule,
    ruleIds: ruleIdsOf(d.labels),
    masks,
    maxTokens: d.kind === 'allow' ? (d.limits.maxTokens ?? null) : null,
  };
}

const ERROR_SUMMARY = (message: string): DecisionSummary => ({
  kind: 'error',
  reasons: [message],
  rule: null,
  ruleIds: [],
  masks: [],
  maxTokens: null,
});

/**
 * The change kinds between a recorded and a replayed decision (empty when equivalent). `findings`
 * (the recorded input's `request.findings`, types found in the prompt) narrows `new_mask` to what
 * would change the call: a new request mask counts only for a type the prompt held. Response masks
 * always count, since the recorded input cannot say what the answer held.
 */
export function classify(
  before: DecisionSummary,
  after: DecisionSummary,
  findings?: Readonly<Record<string, number>>,
): ChangeKind[] {
  if (after.kind === 'error') return ['new_error'];
  const passes = (k: DecisionSummary['kind']): boolean => k === 'allow' || k === 'approval_required';
  const out: ChangeKind[] = [];
  if (passes(before.kind) && after.kind === 'deny') out.push('allow_to_deny');
  if (before.kind === 'deny' && passes(after.kind)) out.push('deny_to_allow');
  if (after.kind === 'approval_required' && before.kind !== 'approval_required') out.push('new_approval');
  if (before.kind === 'approval_required' && after.kind === 'allow') out.push('approval_removed');
  const matters = (mask: string): boolean =>
    !mask.startsWith('request:') || findings === undefined || (findings[mask.slice(8)] ?? 0) > 0;
  if (after.masks.some((m) => !before.masks.includes(m) && matters(m))) out.push('new_mask');
  if (before.kind === 'allow' && after.kind === 'allow' && before.masks.some((m) => !after.masks.includes(m)))
    out.push('mask_removed');
  const comparable = (d: DecisionSummary) => ({ ...d, rule: null, ruleIds: [], masks: d.masks.filter(matters) });
  if (out.length === 0 && JSON.stringify(comparable(before)) !== JSON.stringify(comparable(after))) out.push('other');
  return out;
}

/** Options of replayAudit. */
export interface ReplayOptions {
  readonly engine: PolicyEngine;
  readonly auditFile: string;
  /** Only decisions recorded at or after this time. */
  readonly since?: Date;
  readonly maxExamples?: number;
}

/** Streams `auditFile` and replays every decision event through `engine`. */
export async function replayAudit({ engine, auditFile, since, maxExamples = 5 }: ReplayOptions): Promise<ImpactReport> {
  const counts = Object.fromEntries(CHANGE_KINDS.map((k) => [k, 0])) as Record<ChangeKind, number>;
  const report = {
    candidateRevision: engine.revision,
    recordedRevisions: {} as Record<string, number>,
    replayed: 0,
    unchanged: 0,
    skipped: { noInput: 0, beforeSince: 0, unreadable: 0 },
    counts,
    byRule: {} as ImpactReport['byRule'],
    examples: {} as ImpactReport['examples'],
  };
  for await (const { event, input: recorded } of recordedDecisions(auditFile, report.skipped)) {
    const at = new Date(String(event.timestamp));
    if (since && !(at >= since)) {
      report.skipped.beforeSince++;
      continue;
    }
    // Refusals before a decision (bad token, bad JSON) have no input or result to replay.
    if (!recorded || event.result == null) {
      report.skipped.noInput++;
      continue;
    }
    let before: DecisionSummary;
    try {
      before = summarize(parseDecision(event.result));
    } catch {
      report.skipped.unreadable++;
      continue;
    }
    const revision = String(event.bundles?.sluice?.revision ?? '(unknown)');
    report.recordedRevisions[revision] = (report.recordedRevisions[revision] ?? 0) + 1;
    let after: DecisionSummary;
    // What the candidate's detectors find in the prompt, as the gateway would (new masks count only for these).
    let findings: Record<string, number> | undefined = recorded.request.findings;
    try {
      const input = rebuildInput(engine, recorded);
      findings = input.request.findings;
      after = summarize(engine.evaluateWithResult(input).decision);
    } catch (err) {
      after = ERROR_SUMMARY((err as Error).message);
    }
    report.replayed++;
    const changes = classify(before, after, findings);
    if (changes.length === 0) {
      report.unchanged++;
      continue;
    }
    const ruleIds = after.ruleIds.length > 0 ? after.ruleIds : before.ruleIds.length > 0 ? before.ruleIds : ['(none)'];
    const change: ImpactChange = {
      decisionId: String(event.decision_id ?? ''),
      timestamp: at.toISOString(),
      subject: typeof event.subject === 'string' ? event.subject : null,
      changes,
      before,
      after,
    };
    for (const kind of changes) {
      counts[kind]++;
      for (const rule of ruleIds) {
        const perRule = (report.byRule[rule] ??= {});
        perRule[kind] = (perRule[kind] ?? 0) + 1;
      }
      const examples = (report.examples[kind] ??= []);
      if (examples.length < maxExamples) examples.push(change);
    }
  }
  return report;
}
