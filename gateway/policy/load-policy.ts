/**
 * Loads the configured policy bundle at start. On embedded defaults the bundle is built from
 * policies/ the first time, so `npm start` works on a fresh clone.
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SluiceConfig } from '../config.ts';
import { buildBundle } from './bundle-build.ts';
import { PolicyStore } from './policy-store.ts';
import { PolicyEngine } from './wasm-engine.ts';

/**
 * Returns a store holding the engine of `policy.bundle`, building the bundle from
 * `policy.policiesDir` first when it is missing and `policy.buildIfMissing` is set. Throws an
 * error naming the file and the failed step; the gateway must not start without a policy.
 */
export async function loadPolicyStore(policy: SluiceConfig['policy']): Promise<PolicyStore> {
  const bundle = resolve(policy.bundle);
  const exists = await access(bundle).then(() => true, () => false);
  if (!exists) {
    if (!policy.buildIfMissing) {
      throw new Error(`policy bundle ${bundle} does not exist (build it with \`sluice bundle build\`, or set policy.buildIfMissing)`);
    }
    try {
      await buildBundle({ policiesDir: policy.policiesDir, outFile: bundle });
    } catch (err) {
      throw new Error(`policy bundle ${bundle} is missing and building it from ${resolve(policy.policiesDir)} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return new PolicyStore(await PolicyEngine.fromBundle(bundle));
}
