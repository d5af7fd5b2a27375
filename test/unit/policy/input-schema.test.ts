import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policyInputSchema, POLICY_INPUT_SCHEMA_FILE } from '../../../scripts/policy-input-schema.ts';

describe('policy input schema', () => {
  it("is committed exactly as generated from the gateway's PolicyInput type", () => {
    const committed = JSON.parse(readFileSync(POLICY_INPUT_SCHEMA_FILE, 'utf8')) as unknown;
    expect(committed, 'run: node --import tsx scripts/gen-policy-schema.ts').toEqual(policyInputSchema());
  });

  it('closes every object, so a misspelt field is a type error rather than a rule that never fires', () => {
    const open: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      const types = ([] as unknown[]).concat(n.type);
      if (types.includes('object') && n.properties && n.additionalProperties !== false) open.push(path);
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };
    walk(committed(), '');
    expect(open).toEqual([]);
  });
});

function committed(): unknown {
  return JSON.parse(readFileSync(POLICY_INPUT_SCHEMA_FILE, 'utf8'));
}
