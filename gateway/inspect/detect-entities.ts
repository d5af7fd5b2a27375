/**
 * The detect stage, before the policy decides: findings go into the facts (counts per type) and
 * entity values out of the text the policy reads (`[TYPE]` in their place).
 */
import type { DetectorKit } from './detector-kit.ts';
import type { Inspected } from './inspect-request.ts';
import type { RequestFacts } from './facts.ts';
import { redactFindings } from './redact-findings.ts';
import { scanRequest, type RequestScan } from './request-entities.ts';

/** The detect stage's output: facts with findings, the scan the mask stage rewrites, which input paths were masked. */
export interface Detection {
  readonly facts: RequestFacts;
  readonly scan: RequestScan;
  /** JSON pointers into the decision's input whose entity values were replaced (OPA's `masked`). */
  readonly maskedInputPaths: readonly string[];
  /** The bundle's detector, kept so the audit record is cleared of the same entities. */
  readonly kit: DetectorKit;
}

const NOTHING: RequestScan = { places: [], findings: {}, details: [] };

/** Finds entities in a Messages-shaped body; a body-less operation has none. */
export function detectEntities(kit: DetectorKit, inspected: Inspected): Detection {
  const { facts, body } = inspected;
  if (body === undefined) return { facts, scan: NOTHING, maskedInputPaths: [], kit };
  const scan = scanRequest(body.value, kit.detector);
  if (scan.places.length === 0) return { facts, scan, maskedInputPaths: [], kit };
  return {
    facts: { ...facts, findings: scan.findings, text: redactFindings(facts.text, { kit }) },
    scan,
    maskedInputPaths: ['/input/request/text'],
    kit,
  };
}
