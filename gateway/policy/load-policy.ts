/**
 * Opens the configured policy bundle at start and keeps it current: a file bundle is watched
 * and hot-reloaded, a bundle URL is polled with OPA's bundle protocol. On embedded defaults the
 * bundle is built from policies/ the first time, so `npm start` works on a fresh clone.
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SluiceConfig } from '../config.ts';
import { buildBundle } from './bundle-build.ts';
import { FileBundleSource } from './bundle-source-file.ts';
import { HttpBundleSource } from './bundle-source-http.ts';
import { loadVerificationKey } from './bundle-verify.ts';
import { PolicyLoader, type PolicyLog } from './policy-loader.ts';
import { PolicyStore } from './policy-store.ts';

type PolicyConfig = SluiceConfig['policy'];

/** The policy settings openPolicy reads; everything past the first three has the config's defaults. */
export type PolicyOptions = Pick<PolicyConfig, 'bundle' | 'buildIfMissing' | 'policiesDir'> &
  Partial<Omit<PolicyConfig, 'bundle' | 'buildIfMissing' | 'policiesDir'>>;

/** The loaded policy and the source keeping it current. */
export interface PolicyRuntime {
  readonly store: PolicyStore;
  readonly loader: PolicyLoader;
  /** Starts hot reload (file) or polling (URL), logging to `log`. */
  watch(log: PolicyLog): void;
  /** Stops watching or polling; waits for a load in progress. */
  close(): Promise<void>;
}

/** True when `bundle` names a bundle server rather than a file. */
export function isBundleUrl(bundle: string): boolean {
  return /^https?:\/\//i.test(bundle);
}

/**
 * Loads `policy.bundle` once and returns the runtime that keeps it current. A file bundle must
 * load (the gateway must not start without a policy); a bundle server that does not answer yet
 * leaves the gateway not ready (503) while polling goes on, as OPA does.
 */
export async function openPolicy(policy: PolicyOptions): Promise<PolicyRuntime> {
  const key = policy.publicKey ? await loadVerificationKey(resolve(policy.publicKey)) : undefined;
  const store = new PolicyStore();
  const loader = new PolicyLoader(store, key);
  const minDelayMs = (policy.polling?.minDelaySeconds ?? 60) * 1000;
  const maxDelayMs = (policy.polling?.maxDelaySeconds ?? 120) * 1000;

  if (isBundleUrl(policy.bundle)) {
    const source = new HttpBundleSource({
      url: policy.bundle,
      loader,
      minDelayMs,
      maxDelayMs,
      ...(policy.longPollingTimeoutSeconds ? { longPollingTimeoutSeconds: policy.longPollingTimeoutSeconds } : {}),
    });
    await source.poll();
    return {
      store,
      loader,
      watch(log) {
        loader.useLog(log);
        source.start();
      },
      close: () => source.stop(),
    };
  }

  const bundle = resolve(policy.bundle);
  await buildIfMissing(bundle, policy);
  const source = new FileBundleSource({ path: bundle, loader, pollMs: minDelayMs });
  await source.loadInitial();
  return {
    store,
    loader,
    watch(log) {
      loader.useLog(log);
      if (policy.watch ?? true) source.start();
    },
    close: () => source.stop(),
  };
}

async function buildIfMissing(bundle: string, policy: PolicyOptions): Promise<void> {
  if (
    await access(bundle).then(
      () => true,
      () => false,
    )
  )
    return;
  if (!policy.buildIfMissing) {
    throw new Error(
      `policy bundle ${bundle} does not exist (build it with \`sluice bundle build\`, or set policy.buildIfMissing)`,
    );
  }
  if (policy.publicKey) {
    throw new Error(
      `policy bundle ${bundle} does not exist, and policy.publicKey requires a signed bundle: ` +
        'build one with `sluice bundle build --sign KEY.pem`',
    );
  }
  try {
    await buildBundle({ policiesDir: policy.policiesDir, outFile: bundle });
  } catch (err) {
    throw new Error(
      `policy bundle ${bundle} is missing and building it from ${resolve(policy.policiesDir)} failed: ` +
        (err as Error).message,
      { cause: err },
    );
  }
}

/** Loads `policy.bundle` once, without watching it (tests and one-shot tools). */
export async function loadPolicyStore(policy: PolicyOptions): Promise<PolicyStore> {
  return (await openPolicy(policy)).store;
}
