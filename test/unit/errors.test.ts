import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, SluiceError, toErrorBody } from '../../gateway/errors.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('error table', () => {
  it('documents every code in the README with its status and type', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      // The error table's row: prose elsewhere may mention a code too.
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      expect(row, `README has no row for ${code}`).toBeDefined();
      expect(row).toContain(String(spec.status));
      expect(row).toContain(spec.type);
    }
  });

  it('lists no code in the README that the table does not have', () => {
    const documented = [...readme.matchAll(/`(SLUICE_ERR_[A-Z_]+)`/g)].map((m) => m[1]);
    for (const code of documented) expect(Object.keys(ERRORS)).toContain(code);
  });

  it('renders errors in the Anthropic error shape', () => {
    const err = new SluiceError('SLUICE_ERR_POLICY_DENIED', 'model x is not allowed');
    expect(err.status).toBe(403);
    expect(toErrorBody(err)).toEqual({ type: 'error', error: { type: 'permission_error', message: 'model x is not allowed' } });
    expect(new SluiceError('SLUICE_ERR_BODY_TOO_LARGE').status).toBe(413);
  });
});
