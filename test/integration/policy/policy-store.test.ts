import { describe, expect, inject, it } from 'vitest';
import { PolicyStore } from '../../../gateway/policy/policy-store.ts';
import { PolicyEngine } from '../../../gateway/policy/wasm-engine.ts';
import { bundleOf, policyInput } from '../../helpers/policy-fixtures.ts';

describe('PolicyStore', () => {
  it('is empty (not ready) until an engine is swapped in', async () => {
    const store = new PolicyStore();
    expect(store.current()).toBeUndefined();
    const engine = await PolicyEngine.fromBundle(inject('policyBundle'));
    store.swap(engine);
    expect(store.current()).toBe(engine);
  });

  it('swaps atomically: a request keeps the engine it took, new requests get the new one', async () => {
    const real = await PolicyEngine.fromBundle(inject('policyBundle'));
    const denyAll = await PolicyEngine.fromBundle(
      await bundleOf('decision := {"allow": false, "reasons": ["closed for maintenance"]}', 'deny-all'),
    );
    const store = new PolicyStore(real);
    const inFlight = store.current()!;
    store.swap(denyAll);
    expect(inFlight.revision).toBe('test');
    expect(inFlight.evaluateWithResult(policyInput()).decision.kind).toBe('allow');
    expect(store.current()!.revision).toBe('deny-all');
    expect(store.current()!.evaluateWithResult(policyInput()).decision).toMatchObject({
      kind: 'deny',
      reasons: ['closed for maintenance'],
    });
  });
});
