import { describe, expect, it } from 'vitest';
import { LineSplitter, LineTooLong } from '../../../gateway/batches/line-splitter.ts';

const text = (lines: Buffer[]): string[] => lines.map((l) => l.toString('utf8'));

describe('LineSplitter', () => {
  it('cuts lines across chunks, multi-byte characters and CRLF included', () => {
    const s = new LineSplitter(100);
    const bytes = Buffer.from('{"a":"é"}\r\n{"b":2}\n{"c"', 'utf8');
    const out = [...text(s.push(bytes.subarray(0, 7))), ...text(s.push(bytes.subarray(7)))];
    expect(out).toEqual(['{"a":"é"}', '{"b":2}']);
    expect(s.push(Buffer.from(':3}'))).toEqual([]);
    expect(s.end()?.toString()).toBe('{"c":3}');
    expect(s.end()).toBeUndefined();
  });

  it('refuses a line longer than its bound before the rest of it arrives', () => {
    const s = new LineSplitter(8);
    expect(text(s.push(Buffer.from('12345678\n1234')))).toEqual(['12345678']);
    expect(() => s.push(Buffer.from('56789'))).toThrow(LineTooLong);
  });
});
