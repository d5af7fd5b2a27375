import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, SluiceError, toErrorBody } from '../../gateway/errors.ts';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
/** The error table's page. */
const errorsPage = read('docs/errors.md');
/** Every user doc: a code any of them names must exist. */
const userDocs = [
  'README.md',
  ...readdirSync(new URL('../../docs/', import.meta.url))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('error table', () => {
  it('documents every code in docs/errors.md with its status and type', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      // The error table's row: prose elsewhere may mention a code too.
      const row = errorsPage.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
      expect(row).toContain(String(spec.status));
      expect(row).toContain(spec.type);
    }
  });

  it('names no code in README.md or docs/ that the table does not have', () => {
    for (const doc of userDocs) {
      const documented = [...read(doc).matchAll(/(SLUICE_ERR_[A-Z_]+)/g)].map((m) => m[1]);
      for (const code of documented) expect(Object.keys(ERRORS), `${doc} names ${code}`).toContain(code);
    }
  });

  it('renders errors in the Anthropic error shape', () => {
    const err = new SluiceError('SLUICE_ERR_POLICY_DENIED', 'model x is not allowed');
    expect(err.status).toBe(403);
    expect(toErrorBody(err)).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'model x is not allowed' },
    });
    expect(new SluiceError('SLUICE_ERR_BODY_TOO_LARGE').status).toBe(413);
  });
});
