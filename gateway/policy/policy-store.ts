/**
 * Holds the engine requests evaluate against. A reload builds a new PolicyEngine and swaps the
 * reference in one assignment: a request reads current() once and keeps that engine to the
 * end, so it never sees half of one bundle and half of another.
 */
import type { PolicyEngine } from './wasm-engine.ts';

/** What /readyz and metrics show about policy loading. */
export interface PolicyStatus {
  readonly revision: string | undefined;
  /** Where the active bundle came from (a path or URL). */
  readonly source: string | undefined;
  readonly loadedAt: Date | undefined;
  readonly swaps: number;
  /**
   * Bundles refused or downloads failed since start (corrupt, bad signature, trapping, unreachable…); the previous
   * bundle kept serving.
   */
  readonly failures: number;
  readonly lastFailure: { readonly at: Date; readonly source: string; readonly message: string } | undefined;
}

/** The current policy engine, swapped atomically on reload. */
export class PolicyStore {
  private engine: PolicyEngine | undefined;
  private state: PolicyStatus;

  constructor(engine?: PolicyEngine, source?: string) {
    this.engine = engine;
    this.state = {
      revision: engine?.revision,
      source,
      loadedAt: engine ? new Date() : undefined,
      swaps: 0,
      failures: 0,
      lastFailure: undefined,
    };
  }

  /** The engine to use for a new request; undefined until a bundle is loaded (not ready). */
  current(): PolicyEngine | undefined {
    return this.engine;
  }

  /** Makes `engine` the one new requests use; requests already running keep theirs. */
  swap(engine: PolicyEngine, source?: string): void {
    this.engine = engine;
    this.state = {
      ...this.state,
      revision: engine.revision,
      source: source ?? this.state.source,
      loadedAt: new Date(),
      swaps: this.state.swaps + 1,
    };
  }

  /** Records a bundle that was refused or could not be fetched; the current engine is left as it is. */
  failed(source: string, message: string): void {
    this.state = { ...this.state, failures: this.state.failures + 1, lastFailure: { at: new Date(), source, message } };
  }

  /** A snapshot of what is loaded and what was refused. */
  status(): PolicyStatus {
    return this.state;
  }
}
