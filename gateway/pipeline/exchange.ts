import { randomUUID } from 'node:crypto';
import type { ApprovalFacts } from '../approvals/approval-stage.ts';
import type { InnerDecision, MaskedInner } from '../batches/batch-decide.ts';
import type { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { Detection } from '../inspect/detect-entities.ts';
import type { Inspected } from '../inspect/inspect-request.ts';
import type { ForwardPlan } from '../mask/mask-stage.ts';
import type { TokenUsage } from '../usage/prices.ts';
import type { OperationSpec } from '../operations/operation-table.ts';
import type { Decided } from '../policy/decide.ts';
import type { PolicyInput, ResourceFacts, SessionFacts } from '../policy/input.ts';
import type { Relayed } from '../relay/relayed.ts';
import type { Connection } from '../upstream/connections.ts';
import { Trace } from './trace.ts';

/** Who is calling, through which connection, in which JIT session: the authenticate stage's output. */
export interface Caller {
  readonly identity: Identity;
  readonly session: SessionFacts | null;
}

/**
 * Each stage's output, in pipeline order. A stage is a function of earlier outputs; the runner
 * stores what it returns here, once, and the exchange record is built from these values.
 */
export interface StageOutputs {
  readonly connection: Connection;
  readonly caller: Caller;
  readonly inspected: Inspected;
  /** The revision of the policy bundle that decides this call (taken once: a hot swap mid-call does not change it). */
  readonly bundleRevision: string;
  readonly detection: Detection;
  /** The owned object the call names by id, as the ownership stage found it; null when it names none. */
  readonly resource: ResourceFacts | null;
  /** The owned objects a Messages request refers to, with their owners. */
  readonly references: readonly ResourceFacts[];
  /** The input the first decision evaluates (kept apart so a policy that fails still has its input audited). */
  readonly policyInput: PolicyInput;
  readonly decided: Decided;
  /** The input and decision after a human approved the held call (same `decide` function). */
  readonly policyInputAfterApproval: PolicyInput;
  readonly redecided: Decided;
  /** A Message Batch's requests, each decided as a messages.create (batches.create only). */
  readonly batch: readonly InnerDecision[];
  /** The same requests masked, once every one was allowed. */
  readonly batchMasked: readonly MaskedInner[];
  readonly forwardPlan: ForwardPlan;
  readonly relayed: Relayed;
  /** What the answer reported it used and what that costs, for the record and /metrics. */
  readonly billed: Billed;
  /** The refusal or failure that ended the call early (the first one; a later one is only logged). */
  readonly failure: SluiceError;
}

/**
 * One proxied call: its identity in the audit (decision id, arrival), the operation it is, the
 * outputs its stages produced so far and its trace. Outputs are write-once: setting one twice is
 * a programming error, so no stage can overwrite what another reads. Approvals are an append-only
 * list (requested → approved → used) because the audit wants the last state even if the hold fails.
 */
export class Exchange {
  readonly decisionId = randomUUID();
  readonly startedAt = new Date();
  readonly trace = new Trace();
  private readonly outputs: Partial<Record<keyof StageOutputs, unknown>> = {};
  private readonly approvalStates: ApprovalFacts[] = [];

  constructor(
    readonly operation: OperationSpec,
    /** The caller's address (the audit's `requested_by`). */
    readonly requestedBy: string,
  ) {}

  /** Stores a stage's output; throws if that output was already stored. */
  set<K extends keyof StageOutputs>(key: K, value: StageOutputs[K]): StageOutputs[K] {
    if (key in this.outputs) throw new Error(`exchange output "${key}" set twice`);
    this.outputs[key] = value;
    return value;
  }

  /** A stage's output, or undefined if that stage has not produced one (yet, or because the call ended earlier). */
  get<K extends keyof StageOutputs>(key: K): StageOutputs[K] | undefined {
    return this.outputs[key] as StageOutputs[K] | undefined;
  }

  /** Appends the approval's state as this call last saw it. */
  noteApproval(approval: ApprovalFacts): void {
    this.approvalStates.push(approval);
  }

  /** The approval as the call last saw it (null when it neither presented nor waited for one). */
  get approval(): ApprovalFacts | null {
    return this.approvalStates.at(-1) ?? null;
  }

  /** The decision that governs the call: the one after approval if there was one. */
  get finalDecision(): Decided | undefined {
    return this.get('redecided') ?? this.get('decided');
  }

  /** The policy input as last evaluated (the input of a decision that failed, if it failed). */
  get finalInput(): PolicyInput | undefined {
    return (
      this.get('redecided')?.input ??
      this.get('policyInputAfterApproval') ??
      this.get('decided')?.input ??
      this.get('policyInput')
    );
  }
}

/** A call's reported usage, its model's price family (a bounded label) and its cost. */
export interface Billed {
  readonly family: string;
  readonly usage: TokenUsage;
  readonly costMicroUsd: number;
}
