/**
 * The shipped policies with their data changed (e.g. a 2-second approval TTL, a 1-second idle
 * timeout), built into a bundle with the real OPA CLI: lets an end-to-end test exercise time
 * limits that the policy, not the test, sets.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';
import { testTempDir } from './temp-dirs.ts';

/** The parts of policies/sluice/data.json a variant changes. */
export interface PolicyData {
  approval: Record<string, unknown>;
  session: Record<string, unknown>;
  groups: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/** Copies policies/, applies `change` to policies/sluice/data.json, builds; returns the bundle path. */
export async function bundleWithData(change: (data: PolicyData) => void): Promise<string> {
  const dir = await testTempDir('sluice-variant-');
  const policiesDir = join(dir, 'policies');
  await cp('policies', policiesDir, { recursive: true });
  const dataFile = join(policiesDir, 'sluice', 'data.json');
  const data = JSON.parse(await readFile(dataFile, 'utf8')) as PolicyData;
  change(data);
  await writeFile(dataFile, JSON.stringify(data, null, 2));
  const built = await buildBundle({ policiesDir, outFile: join(dir, 'sluice.tar.gz'), revision: 'variant' });
  return built.file;
}
