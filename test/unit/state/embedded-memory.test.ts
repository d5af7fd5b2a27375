/**
 * A new embedded database is made (initdb, then unpacked into its directory) by a child process,
 * so what PGlite leaves behind doing that is not held by the gateway for as long as it runs.
 * Its own file: the first database this process opens is the one measured.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTestState } from '../../helpers/test-state.ts';

/** Resident memory from the kernel (what an operator's monitoring sees), in MiB. */
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

describe('a new embedded database', () => {
  let dir: string | undefined;
  afterAll(async () => dir && (await rm(dir, { recursive: true, force: true })));

  it('costs this process the running database only, not the making of it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-embedded-'));
    const before = rssMiB();
    const state = await openTestState(dir);
    try {
      await state.db.query('SELECT 1');
      // Opening the database adds ~120–135 MiB (PGlite's heap and compiled code); making
      // one in this process added ~350 MiB that stayed.
      expect(rssMiB() - before).toBeLessThan(220);
    } finally {
      await state.close();
    }
  });
});
