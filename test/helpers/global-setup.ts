/**
 * Runs once before all test files: builds the policy bundle from policies/ with the real OPA CLI
 * into a fresh temp file, so every test evaluates the Rego in the working tree, never a stale build.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the bundle built from policies/ for this test run. */
    policyBundle: string;
  }
}

let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'sluice-test-bundle-'));
  const outFile = join(dir, 'sluice.tar.gz');
  await buildBundle({ policiesDir: 'policies', outFile, revision: 'test' });
  project.provide('policyBundle', outFile);
}

export async function teardown(): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
