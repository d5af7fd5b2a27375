import { describe, expect, it } from 'vitest';
import { AUDIT_OPTIONS } from '../../../gateway/cli/cli-audit.ts';
import { USAGE } from '../../../gateway/cli/cli.ts';

describe('sluice --help', () => {
  it('names every flag of the audit commands', () => {
    const missing = Object.keys(AUDIT_OPTIONS).filter((flag) => !USAGE.includes(`--${flag}`));
    expect(missing).toEqual([]);
  });

  it('names the impact gate and replay flags', () => {
    for (const flag of ['--min-decisions', '--examples', '--fail-on', '--decision-id', '--input'])
      expect(USAGE).toContain(flag);
  });

  it("names people's sign-in commands and flags", () => {
    for (const flag of [
      'login',
      '--device',
      '--browser',
      '--client-id',
      'token --print',
      '--min-ttl',
      'claude configure',
    ])
      expect(USAGE).toContain(flag);
  });
});
