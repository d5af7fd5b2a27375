import { describe, expect, it } from 'vitest';
import { steadyHeapGrowth } from '../../../gateway/ops/heap-growth.ts';

describe('steady heap growth', () => {
  it('sets the growing factor when node was started without one', () => {
    expect(steadyHeapGrowth([])).toBe(true);
    expect(steadyHeapGrowth(['--enable-source-maps', '--max-old-space-size=512'])).toBe(true);
  });

  it("leaves the operator's own --heap-growing-percent alone, in either spelling", () => {
    expect(steadyHeapGrowth(['--heap-growing-percent=20'])).toBe(false);
    expect(steadyHeapGrowth(['--heap_growing_percent=80'])).toBe(false);
  });
});
