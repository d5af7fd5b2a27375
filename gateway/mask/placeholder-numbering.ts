/**
 * Placeholder numbers that stay the same for the same value across every call of one JIT
 * session, so the model can reason about "the same email" from one turn to the next. Values are
 * kept only as keyed hashes: the clear value never outlives the exchange that saw it.
 */
import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** Distinct values numbered per session before numbering starts over (bounds memory per session). */
const MAX_VALUES_PER_SESSION = 10_000;
/** Sessions whose numbering is remembered; the least recently used is forgotten first. */
const MAX_SESSIONS = 10_000;

/** The numbering of one session (or of one exchange, without a session). */
export class PlaceholderNumbering {
  private readonly byDigest = new Map<string, number>();
  private readonly perType = new Map<string, number>();

  constructor(private readonly hashKey: Buffer) {}

  /** The number of `value` among the session's values of `type`: 1 for the first, the same on every later call. */
  numberFor(type: string, value: string): number {
    const digest = createHmac('sha256', this.hashKey).update(`${type}\0${value}`).digest('base64url');
    const known = this.byDigest.get(digest);
    if (known !== undefined) return known;
    if (this.byDigest.size >= MAX_VALUES_PER_SESSION) this.byDigest.clear();
    const n = (this.perType.get(type) ?? 0) + 1;
    this.perType.set(type, n);
    this.byDigest.set(digest, n);
    return n;
  }
}

/** One PlaceholderNumbering per JIT session id. */
export class SessionNumberings {
  private readonly bySession = new LRUCache<string, PlaceholderNumbering>({ max: MAX_SESSIONS });

  constructor(private readonly hashKey: Buffer) {}

  /** The session's numbering; a call without a session gets one of its own. */
  for(sessionId: string | undefined): PlaceholderNumbering {
    if (sessionId === undefined) return new PlaceholderNumbering(this.hashKey);
    let numbering = this.bySession.get(sessionId);
    if (!numbering) {
      numbering = new PlaceholderNumbering(this.hashKey);
      this.bySession.set(sessionId, numbering);
    }
    return numbering;
  }
}
