/**
 * Decoding partial JSON text for the detectors: characters as JSON.parse would give them, offsets back into the raw
 * text.
 */
import { describe, expect, it } from 'vitest';
import { jsonTextView, rawOffset } from '../../../gateway/mask/json-text-view.ts';

describe('jsonTextView', () => {
  it('decodes every escape as JSON.parse does, and maps each character back to where its escape starts', () => {
    const raw = String.raw`"a\u0040b \"q\" \\ \/ \n\t \ud83c\udf0d"`;
    const view = jsonTextView(raw);
    expect(view.text).toBe(`"${JSON.parse(raw) as string}"`);
    expect(view.pendingEscape).toBe(-1);
    const at = view.text.indexOf('@');
    expect(raw.slice(rawOffset(view, at), rawOffset(view, at + 1))).toBe(String.raw`\u0040`);
    expect(rawOffset(view, view.text.length)).toBe(raw.length);
  });

  it('leaves text without a backslash as it is, offsets unchanged', () => {
    const view = jsonTextView('{"to":"a@b.org"}');
    expect(view).toEqual({ text: '{"to":"a@b.org"}', rawAt: undefined, pendingEscape: -1 });
    expect(rawOffset(view, 5)).toBe(5);
  });

  it('reports an escape the fragment ends inside, by its decoded offset, and keeps its characters raw', () => {
    for (const tail of ['\\', '\\u', '\\u00', '\\u004']) {
      const view = jsonTextView(`ab\\n${tail}`);
      expect(view.text).toBe(`ab\n${tail}`);
      expect(view.pendingEscape).toBe(3);
      expect(rawOffset(view, view.pendingEscape)).toBe(4);
    }
  });

  it('keeps an invalid escape as raw characters, not as a pending one', () => {
    const view = jsonTextView('x\\q\\uZZZZy');
    expect(view.text).toBe('x\\q\\uZZZZy');
    expect(view.pendingEscape).toBe(-1);
  });
});
