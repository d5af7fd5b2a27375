import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineBytes } from '../../../gateway/audit/line-bytes.ts';

describe('an audit line in UTF-8 with its newline', () => {
  it.each([
    ['empty', ''],
    ['ASCII', '{"kind":"exchange","seq":1}'],
    ['accented and CJK', '{"text":"Grüße, 東京"}'],
    ['astral (emoji)', '{"text":"🙂 done"}'],
    ['a lone surrogate', '{"text":"\ud800x"}'],
    ['longer than the buffer pool', 'x'.repeat(9000) + 'é'],
  ])('%s: the same bytes as encoding line + newline', (_name, line) => {
    expect(lineBytes(line).equals(Buffer.from(`${line}\n`))).toBe(true);
  });

  it('any string: the same bytes as encoding line + newline', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (line) => lineBytes(line).equals(Buffer.from(`${line}\n`))));
  });
});
