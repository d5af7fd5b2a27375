import { describe, expect, it } from 'vitest';
import { PlaceholderNumbering, SessionNumberings } from '../../../gateway/mask/placeholder-numbering.ts';

const key = Buffer.alloc(32, 7);

describe('placeholder numbering', () => {
  it('gives the same value the same number and counts each type on its own', () => {
    const n = new PlaceholderNumbering(key);
    expect(n.numberFor('EMAIL', 'a@example.com')).toBe(1);
    expect(n.numberFor('EMAIL', 'b@example.com')).toBe(2);
    expect(n.numberFor('PHONE', '+44 20 7946 0958')).toBe(1);
    expect(n.numberFor('EMAIL', 'a@example.com')).toBe(1);
  });

  it('keeps one numbering per session and a fresh one for calls without a session', () => {
    const sessions = new SessionNumberings(key);
    sessions.for('s1').numberFor('EMAIL', 'a@example.com');
    expect(sessions.for('s1').numberFor('EMAIL', 'b@example.com')).toBe(2);
    expect(sessions.for('s2').numberFor('EMAIL', 'b@example.com')).toBe(1);
    expect(sessions.for(undefined)).not.toBe(sessions.for(undefined));
  });

  it('holds keyed hashes, never the values', () => {
    const n = new PlaceholderNumbering(key);
    n.numberFor('EMAIL', 'secret.person@example.com');
    expect(JSON.stringify([...(n as unknown as { byDigest: Map<string, number> }).byDigest.keys()])).not.toContain(
      'secret.person',
    );
  });
});
