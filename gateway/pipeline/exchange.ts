import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { SessionRecordBody } from '../audit/events.ts';
import type { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { Operation, RequestFacts } from '../inspect/facts.ts';
import type { DetectorKit } from '../inspect/detector-kit.ts';
import type { MaskPlan } from '../mask/mask-plan.ts';
import type { Decision } from '../policy/decision.ts';
import type { PolicyInput, SessionFacts } from '../policy/input.ts';
import type { Connection } from '../upstream/connections.ts';

/**
 * Everything one proxied call accumulates on its way through the stages, so that the audit
 * stage can write exactly one decision event and one session record however the call ends.
 */
export class Exchange {
  readonly decisionId = randomUUID();
  readonly startedAt = new Date();
  private readonly t0 = performance.now();
  readonly timingsMs: Record<string, number> = {};
  identity: Identity | undefined;
  connection: Connection | undefined;
  facts: RequestFacts | undefined;
  policyInput: PolicyInput | undefined;
  policyResult: unknown;
  decision: Decision | undefined;
  bundleRevision: string | undefined;
  /** The body as sent upstream (parsed), for the session record. */
  forwardedBody: unknown;
  /** Masking state once the policy allowed the call (types, placeholders, masks applied). */
  maskPlan: MaskPlan | undefined;
  /** Policy-input paths whose entity values were replaced before evaluation (decision event `masked`). */
  maskedInputPaths: readonly string[] = [];
  /** The bundle's entity detector, kept so the audit record can be cleared of entity values. */
  detectorKit: DetectorKit | undefined;
  /** The request bytes to forward when masking rewrote the body (else the caller's own bytes go). */
  forwardedRaw: Buffer | undefined;
  response: SessionRecordBody['response'] = null;
  /** False once response masking scanned the whole response and masked every entity it found: the audit needs no second scan. */
  responseMayHoldEntities = true;
  error: SluiceError | undefined;
  /** The caller's JIT session (gateway/access) as the policy sees it, once the session stage has run. */
  session: SessionFacts | null = null;
  /** The approval this call waited for or presented, as the policy and the audit see it. */
  approval: PolicyInput['approval'] = null;
  /** The decision event is written (before forwarding, or with the exchange record). */
  decisionRecorded = false;
  audited = false;

  constructor(readonly operation: Operation, readonly requestedBy: string) {}

  /** Runs a stage and records how long it took under `stage`. */
  async timed<T>(stage: string, run: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.timingsMs[stage] = round(performance.now() - start);
    }
  }

  /** Records the time elapsed since the exchange started under `mark`. */
  mark(mark: string): void {
    this.timingsMs[mark] = round(performance.now() - this.t0);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
