/**
 * The bench's garbage-per-call figure reads V8's `--trace-gc-nvp` lines from a process's stdout;
 * one real process is traced here, so a change in the trace's format fails this test rather than
 * silently zeroing the figure.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { garbagePerCall, GcTrace, parseGcLine } from '../../../scripts/bench/gc-trace.ts';

const SCAVENGE =
  '18 ms: pause=0.5 mutator=14.3 gc=s reduce_memory=0 time_to_safepoint=0.00 promoted=0 ' +
  'new_space_survived=247144 allocated=1048576 promotion_rate=0.0';

describe('GC trace', () => {
  it('reads a collection line: bytes allocated since the last one, and its pause', () => {
    expect(parseGcLine(SCAVENGE)).toEqual({ allocatedBytes: 1_048_576, pauseMs: 0.5 });
  });

  it('ignores what is not a collection line', () => {
    expect(parseGcLine('BENCH-READY {"url":"http://127.0.0.1:1"}')).toBeUndefined();
    expect(parseGcLine('Memory allocator,       used:  12 KB, available: 1 KB')).toBeUndefined();
    expect(parseGcLine('gc=s pause=0.5 (no allocated field)')).toBeUndefined();
  });

  it('sums collections between two totals, per call', async () => {
    const out = new PassThrough();
    const trace = new GcTrace(out);
    out.write(`${SCAVENGE}\nsomething else\n`);
    await new Promise((resolve) => setImmediate(resolve));
    const before = trace.totals();
    out.write(`${SCAVENGE}\n${SCAVENGE.replace('pause=0.5', 'pause=1.5')}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(before).toEqual({ allocatedBytes: 1_048_576, collections: 1, pauseMs: 0.5 });
    expect(garbagePerCall(before, trace.totals(), 64)).toEqual({
      kbPerCall: 32,
      callsPerCollection: 32,
      pauseUsPerCall: 31, // (0.5 + 1.5) ms over 64 calls
    });
  });

  it("reads a real node process's trace", async () => {
    const child = spawn(
      process.execPath,
      [
        '--trace-gc-nvp',
        '-e',
        'let a = []; for (let i = 0; i < 3e5; i++) { a.push({ i }); if (a.length > 1000) a = []; }',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const trace = new GcTrace(child.stdout);
    await once(child, 'close');
    const { allocatedBytes, collections } = trace.totals();
    expect(collections).toBeGreaterThan(0);
    // 3e5 objects of at least 16 bytes each were made.
    expect(allocatedBytes).toBeGreaterThan(3e5 * 16 * 0.5);
  });
});
