/**
 * Holds the engine requests evaluate against. A reload builds a new PolicyEngine and swaps the
 * reference in one assignment: a request reads current() once and keeps that engine to the
 * end, so it never sees half of one bundle and half of another.
 */
import type { PolicyEngine } from './wasm-engine.ts';

/** The current policy engine, swapped atomically on reload. */
export class PolicyStore {
  private engine: PolicyEngine | undefined;

  constructor(engine?: PolicyEngine) {
    this.engine = engine;
  }

  /** The engine to use for a new request; undefined until a bundle is loaded (not ready). */
  current(): PolicyEngine | undefined {
    return this.engine;
  }

  /** Makes `engine` the one new requests use; requests already running keep theirs. */
  swap(engine: PolicyEngine): void {
    this.engine = engine;
  }
}
