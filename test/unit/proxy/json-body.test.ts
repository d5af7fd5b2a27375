/**
 * The request-body parser under arbitrary input (fast-check): any bytes either parse to exactly
 * what JSON.parse gives or are refused with a SluiceError 400, never anything else; nesting is
 * bounded by MAX_JSON_DEPTH, counted outside strings only, so a string full of brackets is fine.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import { MAX_JSON_DEPTH, parseJsonBody } from '../../../gateway/proxy/json-body.ts';

function outcome(raw: Buffer): { ok: true; value: unknown } | { ok: false; err: unknown } {
  try {
    return { ok: true, value: parseJsonBody(raw).value };
  } catch (err) {
    return { ok: false, err };
  }
}

function expectBadRequest(err: unknown): void {
  expect(err).toBeInstanceOf(SluiceError);
  expect((err as SluiceError).status).toBe(400);
  expect((err as SluiceError).type).toBe('invalid_request_error');
}

/** A JSON value nested exactly `depth` levels, each level an array or an object, with bracket-laden strings beside. */
const nested = (kinds: boolean[], filler: string): string => {
  let s = JSON.stringify(filler);
  for (const obj of kinds) s = obj ? `{"k":${s},"s":${JSON.stringify(filler)}}` : `[${JSON.stringify(filler)},${s}]`;
  return s;
};

describe('parseJsonBody (properties)', () => {
  it('arbitrary bytes: the value JSON.parse gives, or a SluiceError 400, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }).map((s) => new TextEncoder().encode(s))), (bytes) => {
        const raw = Buffer.from(bytes);
        const got = outcome(raw);
        if (!got.ok) return expectBadRequest(got.err);
        expect(got.value).toEqual(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)));
      }),
      { numRuns: 2000 },
    );
  });

  it('any JSON value within the depth bound round-trips, whatever its strings hold', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const raw = Buffer.from(JSON.stringify(value));
        const got = outcome(raw);
        expect(got).toEqual({ ok: true, value: JSON.parse(raw.toString()) });
      }),
      { numRuns: 500 },
    );
  });

  it(`nesting is refused above ${MAX_JSON_DEPTH} levels and only there; brackets and escapes inside strings do not count`, () => {
    const filler = fc.constantFrom('', '[[[{{{', '\\"[{', ']]}}', 'é[{😀', '"\\', '\\\\"[');
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: MAX_JSON_DEPTH * 3 }), filler, (kinds, fill) => {
        const got = outcome(Buffer.from(nested(kinds, fill)));
        if (kinds.length <= MAX_JSON_DEPTH) expect(got.ok).toBe(true);
        else {
          expect(got.ok).toBe(false);
          if (!got.ok) {
            expectBadRequest(got.err);
            expect((got.err as Error).message).toMatch(/nested deeper than 64/);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a body far deeper than any stack (a million levels) is refused quickly, not parsed', () => {
    const raw = Buffer.from('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    const got = outcome(raw);
    expect(got.ok).toBe(false);
    if (!got.ok) expectBadRequest(got.err);
  });
});
