/**
 * The mask stage, after an allow: rewrites the request per Decision.mask.request and prepares
 * the response masking, as one plan.
 */
import type { Detection } from '../inspect/detect-entities.ts';
import type { JsonBody } from '../inspect/json-body.ts';
import type { MaskDirective } from '../policy/decision.ts';
import { maskRequest } from './mask-request.ts';
import type { PlaceholderNumbering } from './placeholder-numbering.ts';
import { MaskPlan } from './mask-plan.ts';

/** What goes upstream: the bytes, the body they encode (for the exchange record) and how the answer is masked. */
export interface ForwardPlan {
  /** The bytes to send; the caller's own (or canonical) bytes unless masking rewrote the body. */
  readonly bytes: Buffer | undefined;
  /** The parsed body as forwarded (after masking), or null for a body-less operation. */
  readonly body: unknown;
  readonly mask: MaskPlan;
}

/**
 * Builds the mask plan and masks the request. The body's masked places are rewritten in the
 * parsed body the inspect stage produced (copying a large body for each call would cost more than
 * the masking): nothing reads that body after this stage except through the plan returned here.
 */
export function maskStage(
  detection: Detection,
  body: JsonBody | undefined,
  directive: MaskDirective,
  hashKey: Buffer,
  numbering: PlaceholderNumbering,
): ForwardPlan {
  const mask = new MaskPlan(detection.kit, directive, hashKey, numbering);
  const changed = maskRequest(detection.scan, mask);
  const value = body?.value ?? null;
  return { bytes: changed ? Buffer.from(JSON.stringify(value), 'utf8') : body?.forward, body: value, mask };
}
