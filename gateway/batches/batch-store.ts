import type { MaskStyle } from '../mask/mask-replacer.ts';
import type { Budget } from '../policy/decision.ts';

/**
 * What the results of one batch request need from its decision: the entity types to mask in its
 * answer and the style. Never an entity value: placeholders from the prompt are therefore not
 * restored in batch results (restoring needs the values, which live only as long as a call).
 */
export interface ResponseMask {
  readonly response: readonly string[];
  readonly style: MaskStyle;
}

/** One request of a batch created through Sluice: its custom_id, its decision and its answer's masking. */
export interface BatchRequestRecord {
  readonly customId: string;
  readonly decisionId: string;
  readonly responseMask: ResponseMask;
  /** The budgets its decision set (limits.budgets) and its model: its result's usage is settled against them. */
  readonly budgets: readonly Budget[];
  readonly model: string | undefined;
}

/** Where each batch's per-request decisions live (the state database), shared by every instance. */
export interface BatchRequestStore {
  /** Records the requests of batch `batchId` created on `connection` (a batch is recorded once). */
  record(connection: string, batchId: string, requests: readonly BatchRequestRecord[]): Promise<void>;
  /** The requests of a batch by custom_id; empty when the batch was not created through Sluice on `connection`. */
  requests(connection: string, batchId: string): Promise<Map<string, BatchRequestRecord>>;
  /**
   * Marks the requests `customIds` of a batch as settled and returns those that were not yet: a
   * result's usage counts once, however often (and on whichever instances) the results are read.
   */
  claimSettlement(connection: string, batchId: string, customIds: readonly string[]): Promise<Set<string>>;
  /** Forgets a deleted batch's requests. */
  forget(connection: string, batchId: string): Promise<void>;
}

/** The batch state the proxy needs (the state database's store; owners are the ownership stage's). */
export interface BatchDeps {
  readonly batchRequests: BatchRequestStore;
}
