import type { Decision } from './decision.ts';
import type { PolicyInput } from './input.ts';
import type { PolicyEngine } from './wasm-engine.ts';

/** The decide stage's output: the decision, OPA's raw result (for the decision event) and the input as evaluated. */
export interface Decided {
  readonly decision: Decision;
  readonly result: unknown;
  /** The input as the engine evaluated it (entity values masked per the bundle's rules). */
  readonly input: PolicyInput;
}

/** Evaluates the bundle's decision for `input`. The same function decides again after an approval. */
export function decide(engine: PolicyEngine, input: PolicyInput): Decided {
  return engine.evaluateWithResult(input);
}
