/**
 * The request-body parser under arbitrary input (fast-check): any bytes either parse to exactly
 * what JSON.parse gives or are refused with a SluiceError 400, never anything else; nesting is
 * bounded by MAX_JSON_DEPTH, counted outside strings only, so a string full of brackets is fine.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import { MAX_JSON_DEPTH, parseJsonBody } from '../../../gateway/inspect/json-body.ts';

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
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 200 }).map((s) => new TextEncoder().encode(s)),
        ),
        (bytes) => {
          const raw = Buffer.from(bytes);
          const got = outcome(raw);
          if (!got.ok) return expectBadRequest(got.err);
          expect(got.value).toEqual(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)));
        },
      ),
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

  it(
    `nesting is refused above ${MAX_JSON_DEPTH} levels and only there; ` +
      'brackets and escapes inside strings do not count',
    () => {
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
    },
  );

  it('a body far deeper than any stack (a million levels) is refused quickly, not parsed', () => {
    const raw = Buffer.from('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    const got = outcome(raw);
    expect(got.ok).toBe(false);
    if (!got.ok) expectBadRequest(got.err);
  });
});

/** The refusal a body gets, or undefined when it parses. */
function refusal(raw: string): SluiceError | undefined {
  try {
    parseJsonBody(Buffer.from(raw));
    return undefined;
  } catch (err) {
    return err as SluiceError;
  }
}

describe('duplicate keys (JSON.parse keeps the last, an upstream may read the first)', () => {
  const cases: Array<[string, string, string]> = [
    [
      'top level',
      '{"messages":[{"role":"user","content":"4111 1111 1111 1111"}],"messages":[]}',
      'body: key "messages"',
    ],
    ['spelled with an escape', '{"model":"a","\\u006dodel":"b"}', 'body: key "model"'],
    ['escaped both times, differently', '{"\\u006dodel":"a","m\\u006fdel":"b"}', 'body: key "model"'],
    [
      'in an object inside an array',
      '{"messages":[{"role":"user"},{"role":"user","content":"x","content":"y"}]}',
      'messages[1]: key "content"',
    ],
    ['deep in a tool input', '{"a":{"b":[0,{"c":{"d":1,"d":2}}]}}', 'a.b[1].c: key "d"'],
    ['with a key that needs quoting in the path', '{"x y":{"k":1,"k":1}}', '["x y"]: key "k"'],
  ];
  for (const [where, raw, message] of cases) {
    it(`${where}: 400 invalid_request_error naming the path and the key`, () => {
      const err = refusal(raw);
      expectBadRequest(err);
      expect((err as SluiceError).code).toBe('SLUICE_ERR_DUPLICATE_KEY');
      expect((err as SluiceError).message).toContain(message);
    });
  }

  it('the same key in sibling objects, key-shaped strings in values and escaped quotes are not duplicates', () => {
    for (const raw of [
      '{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":2}]}',
      '{"text":"\\"text\\": 1, \\"text\\": 2","t":"{\\"a\\":1,\\"a\\":2}"}',
      '{"a":"x","b":["a","a"],"c":{"a":"a"}}',
    ]) {
      expect(refusal(raw), raw).toBeUndefined();
    }
  });

  it('any object with one key repeated anywhere inside it is refused (fast-check)', () => {
    const key = fc.constantFrom('model', 'messages', 'max_tokens', 'content', 'k');
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        key,
        fc.jsonValue({ maxDepth: 2 }),
        fc.nat(),
        fc.boolean(),
        (value, k, dup, at, escape) => {
          // Wrap the value, put a duplicate of `k` into the innermost object on one path, spelled plain or escaped.
          const spelled = escape
            ? `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}"`
            : JSON.stringify(k);
          const doc =
            `{"outer":[${JSON.stringify(value)},{${JSON.stringify(k)}:${JSON.stringify(dup)},` +
            `"x":${at},${spelled}:0}]}`;
          const err = refusal(doc);
          expect((err as SluiceError | undefined)?.code).toBe('SLUICE_ERR_DUPLICATE_KEY');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any keys, escapes and quotes in them included: refused exactly when one repeats (fast-check)', () => {
    // Keys and values that hold quotes, backslashes and escapes, so the scan must find each string's
    // end past every escaped quote and backslash to read the keys the parser reads.
    const tricky = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom('"', '\\', '\\"', '"\\', 'a"b', '\\\\"', '\u00e9', '\ud83d\ude00'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(tricky, fc.oneof(tricky, fc.jsonValue({ maxDepth: 2 }))), { maxLength: 6 }),
        (members) => {
          const doc = `{"o":{${members.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}}`;
          const repeated = new Set(members.map(([k]) => k)).size !== members.length;
          const err = refusal(doc) as SluiceError | undefined;
          if (repeated) expect(err?.code, doc).toBe('SLUICE_ERR_DUPLICATE_KEY');
          else expect(err, doc).toBeUndefined();
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('the bytes that go upstream are the document the policy saw', () => {
  it('a body as JSON.stringify writes it is forwarded byte for byte (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const raw = Buffer.from(JSON.stringify({ v: value }));
        expect(parseJsonBody(raw).forward.equals(raw)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  const rewritten: Array<[string, string]> = [
    ['an escaped key', '{"\\u006dodel":"claude"}'],
    ['an exponent', '{"max_tokens":1.6e1}'],
    ['a trailing zero', '{"temperature":0.50}'],
    ['negative zero', '{"x":-0}'],
    ['an integer JavaScript rounds', '{"x":9007199254740993}'],
    ['a lone surrogate escape', '{"x":"\\uD800"}'],
    ['a byte-order mark', '\ufeff{"x":1}'],
  ];
  for (const [what, raw] of rewritten) {
    it(`${what}: forwarded as JSON.stringify of the parsed value`, () => {
      const body = parseJsonBody(Buffer.from(raw));
      expect(body.forward.toString()).toBe(JSON.stringify(body.value));
      expect(body.forward.equals(body.raw)).toBe(false);
    });
  }

  it('a number JavaScript cannot hold (1e400) is refused, not sent upstream as null', () => {
    for (const raw of ['{"x":1e400}', '{"x":[-1e999]}', '{"\\u006d":1,"x":1e400}']) {
      const err = refusal(raw);
      expectBadRequest(err);
      expect((err as SluiceError).message).toMatch(/out of range/);
    }
  });

  it('numbers that print as written and escapes in values keep the caller bytes', () => {
    const raw = Buffer.from('{"a":1.5,"b":-2,"c":123456789012345,"d":1e+21,"e":"\\u00e9\\n\\"q\\""}');
    expect(parseJsonBody(raw).forward).toBe(raw);
  });
});
