import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { boundContent, fieldSlots, truncatedContent } from '../../../gateway/audit/content-bound.ts';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('boundContent', () => {
  it('changes nothing when the fields fit together', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const copy = structuredClone(body);
    expect(boundContent(fieldSlots(body), 1024)).toBe(0);
    expect(body).toEqual(copy);
  });

  it('keeps small fields whole and cuts each large one to an even share of what is left', () => {
    const a = 'a'.repeat(5000);
    const b = ['b'.repeat(3000)];
    const body: Record<string, unknown> = { model: 'claude-haiku-4-5', max_tokens: 64, a, b };
    expect(boundContent(fieldSlots(body), 1000)).toBe(2);
    expect(body.model).toBe('claude-haiku-4-5');
    expect(body.max_tokens).toBe(64);
    // A string is measured as its text, anything else as its JSON: 1000 - 16 - 2 left for the two large fields.
    const share = (1000 - 'claude-haiku-4-5'.length - '64'.length) / 2;
    expect(body.a).toEqual({ truncated: true, bytes: 5000, sha256: sha256(a), head: a.slice(0, share) });
    const bJson = JSON.stringify(b);
    expect(body.b).toMatchObject({ truncated: true, bytes: bJson.length, sha256: sha256(bJson) });
    const stored = JSON.stringify(body);
    expect(stored.length).toBeLessThan(1000 + 300); // the heads plus two markers' fixed fields
  });
});

describe('truncatedContent', () => {
  it('hashes the UTF-8 of the whole text across its hashing slices; the head never cuts a character', () => {
    // Over one hashing slice (1 Mi characters), with a surrogate pair straddling the slice's end.
    const text = 'x'.repeat((1 << 20) - 1) + '😀'.repeat(10) + 'ü'.repeat(100);
    const marker = truncatedContent(text, (1 << 20) + 1);
    expect(marker.bytes).toBe(Buffer.byteLength(text, 'utf8'));
    expect(marker.sha256).toBe(sha256(text));
    expect(marker.head).toBe('x'.repeat((1 << 20) - 1)); // the emoji's 4 bytes do not fit in the 2 left
    expect(truncatedContent('ééé', 3).head).toBe('é');
  });
});
