import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashBundleFile, isStructuredDoc } from '../../../gateway/policy/bundle-hash.ts';

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

describe('OPA bundle file digests', () => {
  it('hashes structured documents over sorted keys, without whitespace, numbers as written', () => {
    expect(canonicalJson('{ "b": [1.0, 2e3, -0], "a": {"z": null, "y": true}, "c": "x" }')).toBe(
      '{"a":{"y":true,"z":null},"b":[1.0,2e3,-0],"c":"x"}',
    );
    expect(hashBundleFile('data.json', Buffer.from('{"b":1,\n "a":2}'))).toBe(sha256('{"a":2,"b":1}'));
    expect(hashBundleFile('sluice/data.json', Buffer.from('{"a":2,"b":1}'))).toBe(
      hashBundleFile('data.json', Buffer.from('{ "b":1, "a":2 }')),
    );
  });

  it("escapes strings as Go's encoder does (no HTML escaping, U+2028 escaped)", () => {
    expect(canonicalJson('["<&>", "\\u2028", "tab\\t", "\\u0001", "é"]')).toBe(
      '["<&>","\\u2028","tab\\t","\\u0001","é"]',
    );
  });

  it('hashes Rego and WASM as raw bytes', () => {
    const rego = Buffer.from('package sluice\n\n x := 1\n');
    expect(hashBundleFile('sluice/x.rego', rego)).toBe(sha256(rego));
    expect(isStructuredDoc('sluice/x.rego')).toBe(false);
    expect(isStructuredDoc('.manifest')).toBe(true);
  });

  it('refuses malformed JSON, weak or unknown algorithms and data.yaml', () => {
    expect(() => hashBundleFile('data.json', Buffer.from('{"a":1,}'))).toThrow(/invalid JSON/);
    expect(() => hashBundleFile('data.json', Buffer.from('{"a":1} x'))).toThrow(/trailing/);
    expect(() => hashBundleFile('policy.wasm', Buffer.from('x'), 'MD5')).toThrow(/unsupported hash algorithm "MD5"/);
    expect(() => hashBundleFile('data.yaml', Buffer.from('a: 1'))).toThrow(/data\.yaml is not supported/);
    expect(hashBundleFile('policy.wasm', Buffer.from('x'), 'SHA-512')).toBe(
      createHash('sha512').update('x').digest('hex'),
    );
  });
});
