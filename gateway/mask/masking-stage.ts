/**
 * The two masking steps of the proxy route, as plain functions: detect (before the policy
 * decides: findings into the facts, entity values out of the policy input) and mask (after an
 * allow: rewrite the request per Decision.mask.request and prepare the response masking).
 */
import type { DetectorKit } from '../inspect/detector-kit.ts';
import type { RequestFacts } from '../inspect/facts.ts';
import { scanRequest, type RequestScan } from '../inspect/request-entities.ts';
import type { MaskDirective } from '../policy/decision.ts';
import { maskRequest, redactFindings } from './mask-request.ts';
import type { PlaceholderNumbering } from './placeholder-numbering.ts';
import { MaskPlan } from './mask-plan.ts';

/** Facts with findings, the scan for the mask step, and which policy-input paths were masked. */
export interface Detection {
  readonly facts: RequestFacts;
  readonly scan: RequestScan;
  /** JSON pointers into the decision's input whose entity values were replaced (OPA's `masked`). */
  readonly maskedInputPaths: readonly string[];
}

const NOTHING: RequestScan = { places: [], findings: {}, details: [] };

/** Finds entities in the request; the policy sees counts per type and the text with values replaced by `[TYPE]`. */
export function detectEntities(kit: DetectorKit, facts: RequestFacts, body: unknown): Detection {
  if (facts.operation !== 'messages.create' && facts.operation !== 'messages.count_tokens') return { facts, scan: NOTHING, maskedInputPaths: [] };
  const scan = scanRequest(body, kit.detector);
  if (scan.places.length === 0) return { facts, scan, maskedInputPaths: [] };
  return {
    facts: { ...facts, findings: scan.findings, text: redactFindings(facts.text, { kit }) },
    scan,
    maskedInputPaths: ['/input/request/text'],
  };
}

/** The masking plan for an allowed call, and the request bytes to forward (undefined: send the original bytes). */
export function maskStage(
  kit: DetectorKit,
  directive: MaskDirective,
  hashKey: Buffer,
  numbering: PlaceholderNumbering,
  scan: RequestScan,
  body: unknown,
): { plan: MaskPlan; raw: Buffer | undefined } {
  const plan = new MaskPlan(kit, directive, hashKey, numbering);
  const changed = maskRequest(scan, plan);
  return { plan, raw: changed ? Buffer.from(JSON.stringify(body), 'utf8') : undefined };
}
