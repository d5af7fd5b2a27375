/**
 * Temporary directories for a test file, removed when the file's tests are done. Made with
 * mkdtemp in the OS temp dir; the removal is a file-level vitest afterAll hook, registered when a
 * test file imports this module (hooks registered while tests run would never be called), so a
 * helper that makes them needs no teardown of its own.
 */
import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory `<tmp>/<prefix>XXXXXX`, removed with everything in it after the test file. */
export async function testTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** {@link testTempDir} for synchronous code. */
export function testTempDirSync(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
