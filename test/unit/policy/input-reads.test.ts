import { describe, expect, it } from 'vitest';
import { manifestSaysReadsText, readsPromptText } from '../../../gateway/policy/input-reads.ts';

/** A ref as `opa deps --format json` prints it: input.a.b → var input, strings a, b. */
const ref = (...path: (string | { var: string })[]) => [
  { type: 'var', value: 'input' },
  ...path.map((p) => (typeof p === 'string' ? { type: 'string', value: p } : { type: 'var', value: p.var })),
];

describe('readsPromptText', () => {
  it('counts the text itself, anything inside it, and every prefix of its path', () => {
    expect(readsPromptText([ref('request', 'text')])).toBe(true);
    expect(readsPromptText([ref('request', 'text', 'x')])).toBe(true);
    expect(readsPromptText([ref('request')])).toBe(true); // input.request[k], object.get(input.request, …)
    expect(readsPromptText([ref()])).toBe(true); // the input handed whole to a function
  });

  it('stops the path at a computed key: what follows it may be the text', () => {
    expect(readsPromptText([ref({ var: 'k' }, 'text')])).toBe(true);
    expect(readsPromptText([ref('request', { var: 'k' })])).toBe(true);
  });

  it('does not count other input paths, text_matches included, nor data', () => {
    const others = [ref('request', 'model'), ref('request', 'text_matches', 'keywords'), ref('identity'), ref('now')];
    expect(readsPromptText(others)).toBe(false);
    expect(
      readsPromptText([
        [
          { type: 'var', value: 'data' },
          { type: 'string', value: 'request' },
          { type: 'string', value: 'text' },
        ],
      ]),
    ).toBe(false);
    expect(readsPromptText([])).toBe(false);
  });
});

describe('manifestSaysReadsText', () => {
  it('is false only when the builder recorded false; absent means the text is passed', () => {
    expect(manifestSaysReadsText({ revision: 'r', wasm: [], metadata: { sluice: { policy_reads_text: false } } })).toBe(
      false,
    );
    expect(manifestSaysReadsText({ revision: 'r', wasm: [], metadata: { sluice: { policy_reads_text: true } } })).toBe(
      true,
    );
    expect(manifestSaysReadsText({ revision: 'r', wasm: [] })).toBe(true);
    expect(manifestSaysReadsText({ revision: 'r', wasm: [], metadata: { sluice: { policy_reads_text: 'no' } } })).toBe(
      true,
    );
  });
});
