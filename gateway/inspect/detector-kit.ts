/**
 * The entity detector and stream hold-back rules for one policy bundle: the built-in types plus
 * the custom ones in the bundle's data. Built once when the bundle loads, never per request.
 */
import { patternsFromPolicyData } from './custom-entities.ts';
import { EntityDetector } from './entity-detector.ts';
import { StreamTail } from './stream-tail.ts';

/** A detector with its stream hold-back rules. */
export interface DetectorKit {
  readonly detector: EntityDetector;
  readonly tail: StreamTail;
}

/** Builds the kit from a bundle's data document; throws when its custom entities are invalid or unsafe. */
export function buildDetectorKit(data: unknown): DetectorKit {
  const patterns = patternsFromPolicyData(data);
  return { detector: new EntityDetector(patterns), tail: new StreamTail(patterns) };
}
