/**
 * Everything the masking stages of one exchange share: the policy's directive resolved into
 * type sets, the bundle's detector, one replacer (so a value masked in the prompt gets the same
 * placeholder in the answer) and the ledger of masks applied.
 */
import type { DetectorKit } from '../inspect/detector-kit.ts';
import type { MaskDirective } from '../policy/decision.ts';
import { MaskLedger } from './mask-ledger.ts';
import { MaskReplacer } from './mask-replacer.ts';
import type { PlaceholderNumbering } from './placeholder-numbering.ts';

/** The masking state of one exchange. */
export class MaskPlan {
  readonly requestTypes: ReadonlySet<string>;
  readonly responseTypes: ReadonlySet<string>;
  readonly restore: boolean;
  readonly replacer: MaskReplacer;
  readonly ledger = new MaskLedger();

  constructor(
    readonly kit: DetectorKit,
    directive: MaskDirective,
    hashKey: Buffer,
    numbering?: PlaceholderNumbering,
  ) {
    this.requestTypes = new Set(directive.request);
    this.responseTypes = new Set(directive.response);
    // Restoring only makes sense for placeholders Sluice itself put into the prompt.
    this.restore = directive.restore && directive.style === 'placeholder' && this.requestTypes.size > 0;
    this.replacer = new MaskReplacer(directive.style, hashKey, numbering);
  }

  /** Whether the response needs to pass through the masker at all. */
  get touchesResponse(): boolean {
    return this.responseTypes.size > 0 || this.restore;
  }
}
