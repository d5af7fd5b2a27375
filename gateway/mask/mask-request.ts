/**
 * Request masking: rewrites, in place, the strings the inspect stage found entities in, for the
 * types the policy names. The parsed body is re-serialized only when something changed, so an
 * unmasked request still goes upstream byte for byte.
 */
import type { RequestScan, TextPlace } from '../inspect/request-entities.ts';
import type { MaskPlan } from './mask-plan.ts';
import { maskText } from './mask-text.ts';

/**
 * Renames key `from` of `holder` to `to`, in place and keeping the key order (the holder may be
 * referenced from its parent, so it is not replaced).
 */
function renameKey(holder: Record<string, unknown>, from: string, to: string): void {
  const entries = Object.entries(holder);
  for (const [k] of entries) delete holder[k];
  for (const [k, v] of entries) {
    // defineProperty, not assignment: a key named __proto__ stays a plain key.
    Object.defineProperty(holder, k === from ? to : k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

/**
 * Rewrites each place with `rewrite`: string values first, then object keys (a tool input's
 * property names), so no value place still points at a key already renamed.
 */
export function rewritePlaces(
  places: readonly TextPlace[],
  rewrite: (value: string, place: TextPlace) => string,
): void {
  for (const place of places) {
    if (place.isKey) continue;
    const holder = place.holder as Record<string | number, unknown>;
    const value = holder[place.key];
    if (typeof value === 'string') holder[place.key] = rewrite(value, place);
  }
  for (const place of places) {
    if (!place.isKey || typeof place.key !== 'string' || !Object.hasOwn(place.holder, place.key)) continue;
    const to = rewrite(place.key, place);
    if (to !== place.key) renameKey(place.holder as Record<string, unknown>, place.key, to);
  }
}

/** Masks `scan`'s places in the body they came from; returns true when anything was replaced. */
export function maskRequest(scan: RequestScan, plan: MaskPlan): boolean {
  if (plan.requestTypes.size === 0) return false;
  let changed = false;
  rewritePlaces(scan.places, (value, place) => {
    const masked = maskText(value, place.matches, plan.requestTypes, plan.replacer);
    if (masked.counts.size === 0) return value;
    plan.ledger.add(`request.${place.path}`, masked.counts);
    changed = true;
    return masked.text;
  });
  plan.replacer.sealRequest();
  return changed;
}
