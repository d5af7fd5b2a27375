/**
 * Request masking: rewrites, in place, the strings the inspect stage found entities in, for the
 * types the policy names. The parsed body is re-serialized only when something changed, so an
 * unmasked request still goes upstream byte for byte.
 */
import type { RequestScan } from '../inspect/request-entities.ts';
import type { MaskPlan } from './mask-plan.ts';
import { maskText } from './mask-text.ts';

/** Masks `scan`'s places in the body they came from; returns true when anything was replaced. */
export function maskRequest(scan: RequestScan, plan: MaskPlan): boolean {
  if (plan.requestTypes.size === 0) return false;
  let changed = false;
  for (const place of scan.places) {
    const holder = place.holder as Record<string | number, unknown>;
    const value = holder[place.key];
    if (typeof value !== 'string') continue;
    const masked = maskText(value, place.matches, plan.requestTypes, plan.replacer);
    if (masked.counts.size === 0) continue;
    holder[place.key] = masked.text;
    plan.ledger.add(`request.${place.path}`, masked.counts);
    changed = true;
  }
  plan.replacer.sealRequest();
  return changed;
}

/**
 * The prompt text for the policy input with every detected entity replaced by its type, so that
 * entity values never enter the policy input or the decision log (DESIGN.md).
 */
export function redactFindings(text: string, plan: Pick<MaskPlan, 'kit'>): string {
  const matches = plan.kit.detector.scan(text);
  if (matches.length === 0) return text;
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += `${text.slice(at, m.start)}[${m.type}]`;
    at = m.end;
  }
  return out + text.slice(at);
}
