/**
 * The masks applied in one exchange, for the decision event's `masks_applied`: type, count and
 * JSON path (`request.messages[0].content` / `response.content[0].text`), never a value.
 */

/** One entry of `masks_applied`. */
export interface MaskApplied {
  readonly type: string;
  readonly count: number;
  readonly path: string;
}

/** Accumulates counts per (path, type), in first-seen order. */
export class MaskLedger {
  private readonly counts = new Map<string, { type: string; path: string; count: number }>();

  /** Adds the counts of one rewritten string at `path`. */
  add(path: string, counts: ReadonlyMap<string, number>): void {
    for (const [type, n] of counts) {
      const key = `${path}\0${type}`;
      const entry = this.counts.get(key);
      if (entry) entry.count += n;
      else this.counts.set(key, { type, path, count: n });
    }
  }

  /** True once anything was masked. */
  get applied(): boolean {
    return this.counts.size > 0;
  }

  /** The entries so far. */
  entries(): MaskApplied[] {
    return [...this.counts.values()].map((e) => ({ ...e }));
  }
}
