import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

/** What a process's collections reported so far. */
export interface GcTotals {
  /** Bytes allocated on V8's heap, summed over the collections' `allocated=`. */
  readonly allocatedBytes: number;
  readonly collections: number;
  /** Time the collections paused the process, in ms. */
  readonly pauseMs: number;
}

/** One collection's figures from a `--trace-gc-nvp` line, or undefined for any other line. */
export function parseGcLine(line: string): { allocatedBytes: number; pauseMs: number } | undefined {
  if (!/(?:^|\s)gc=\S/.test(line)) return undefined;
  const allocated = /(?:^|\s)allocated=(\d+)/.exec(line);
  const pause = /(?:^|\s)pause=([\d.]+)/.exec(line);
  if (!allocated) return undefined;
  return { allocatedBytes: Number(allocated[1]), pauseMs: pause ? Number(pause[1]) : 0 };
}

/**
 * Garbage made by a process started with `node --trace-gc-nvp`, read from its stdout: each
 * collection's line says how many bytes were allocated since the one before. The difference of
 * two totals taken around N calls, divided by N, is what a call allocates: short-lived objects
 * that cost collection time and, at one connection, put a pause in some calls' latency. Unlike
 * req/s on a shared VM it barely moves between runs. It is exact to within one collection (the
 * bytes allocated before the window's first collection are counted, those after its last are not).
 */
export class GcTrace {
  #allocatedBytes = 0;
  #collections = 0;
  #pauseMs = 0;

  constructor(stdout: Readable) {
    createInterface({ input: stdout }).on('line', (line) => this.add(line));
  }

  add(line: string): void {
    const gc = parseGcLine(line);
    if (!gc) return;
    this.#allocatedBytes += gc.allocatedBytes;
    this.#collections += 1;
    this.#pauseMs += gc.pauseMs;
  }

  totals(): GcTotals {
    return { allocatedBytes: this.#allocatedBytes, collections: this.#collections, pauseMs: this.#pauseMs };
  }
}

/** Between two totals taken around `calls` calls: what a call allocated, and what collecting it cost. */
export interface GarbagePerCall {
  /** KB allocated per call. */
  readonly kbPerCall: number;
  /** Calls per collection: at one connection, about one call in this many waits for a pause. */
  readonly callsPerCollection: number;
  /** Time the collections paused the process, per call, in µs. */
  readonly pauseUsPerCall: number;
}

export function garbagePerCall(before: GcTotals, after: GcTotals, calls: number): GarbagePerCall {
  const collections = after.collections - before.collections;
  return {
    kbPerCall: Math.round((after.allocatedBytes - before.allocatedBytes) / calls / 1024),
    callsPerCollection: collections === 0 ? calls : Math.round(calls / collections),
    pauseUsPerCall: Math.round(((after.pauseMs - before.pauseMs) * 1000) / calls),
  };
}
