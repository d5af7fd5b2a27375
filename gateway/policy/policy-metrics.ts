/**
 * The policy's state for the ops endpoints: a JSON view for /readyz, and Prometheus text lines
 * for a /metrics endpoint to append (whoever owns /metrics calls policyMetricsText).
 */
import type { PolicyStore } from './policy-store.ts';

/** The `bundle` object /readyz shows: active revision, where it came from, and the last failure. */
export function policyReadiness(store: PolicyStore): Record<string, unknown> {
  const s = store.status();
  return {
    revision: s.revision ?? null,
    source: s.source ?? null,
    loaded_at: s.loadedAt?.toISOString() ?? null,
    swaps: s.swaps,
    failures: s.failures,
    ...(s.lastFailure
      ? {
          last_failure: {
            at: s.lastFailure.at.toISOString(),
            source: s.lastFailure.source,
            message: s.lastFailure.message,
          },
        }
      : {}),
  };
}

/** A label value escaped per the Prometheus text format. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * Prometheus exposition lines (with HELP/TYPE) for the policy: the active revision as an info
 * metric, load time, swaps and failures.
 */
export function policyMetricsText(store: PolicyStore): string {
  const s = store.status();
  const lines = [
    '# HELP sluice_policy_bundle_info The active policy bundle (value 1), by revision.',
    '# TYPE sluice_policy_bundle_info gauge',
    ...(s.revision !== undefined ? [`sluice_policy_bundle_info{revision="${label(s.revision)}"} 1`] : []),
    '# HELP sluice_policy_bundle_loaded_timestamp_seconds When the active bundle was swapped in.',
    '# TYPE sluice_policy_bundle_loaded_timestamp_seconds gauge',
    `sluice_policy_bundle_loaded_timestamp_seconds ${s.loadedAt ? s.loadedAt.getTime() / 1000 : 0}`,
    '# HELP sluice_policy_bundle_swaps_total Bundles swapped in, the first load included.',
    '# TYPE sluice_policy_bundle_swaps_total counter',
    `sluice_policy_bundle_swaps_total ${s.swaps}`,
    '# HELP sluice_policy_bundle_failures_total ' +
      'Bundles refused or downloads failed (the previous bundle kept serving).',
    '# TYPE sluice_policy_bundle_failures_total counter',
    `sluice_policy_bundle_failures_total ${s.failures}`,
    '# HELP sluice_policy_wasm_memory_bytes WASM memory of the active policy instance.',
    '# TYPE sluice_policy_wasm_memory_bytes gauge',
    `sluice_policy_wasm_memory_bytes ${store.current()?.memoryBytes ?? 0}`,
  ];
  return `${lines.join('\n')}\n`;
}
