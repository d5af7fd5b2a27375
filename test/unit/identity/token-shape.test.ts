/**
 * The duplicate-member scanner behind checkTokenShape: it must find every duplicate (at any
 * depth, however spelled) and never flag honest JSON, whatever its strings contain.
 */
import { describe, expect, it } from 'vitest';
import { checkTokenShape, findDuplicateMember, MAX_TOKEN_BYTES } from '../../../gateway/identity/token-shape.ts';
import { expectSluiceError } from './expect-sluice-error.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

describe('findDuplicateMember', () => {
  it.each([
    ['top level', '{"sub":"a","sub":"b"}', 'sub'],
    ['not adjacent', '{"sub":"a","iss":"x","aud":["y"],"sub":"b"}', 'sub'],
    ['escaped spelling', '{"sub":"a","\\u0073ub":"b"}', 'sub'],
    ['nested object', '{"a":{"roles":[1],"roles":[2]}}', 'roles'],
    ['object inside an array', '{"a":[{"x":1,"x":2}]}', 'x'],
    ['after a value ending in an escaped backslash', '{"a":"\\\\","a":1}', 'a'],
    ['empty name', '{"":1,"":2}', ''],
  ])('finds a duplicate: %s', (_name, json, duplicate) => {
    expect(JSON.parse(json)).toBeTypeOf('object');
    expect(findDuplicateMember(json)).toBe(duplicate);
  });

  it.each([
    ['distinct names', '{"sub":"a","iss":"b"}'],
    ['same name in sibling objects', '{"a":[{"b":1},{"b":2}],"c":{"b":3},"b":4}'],
    ['name-like text inside string values', '{"a":"x\\",\\"a\\":1","b":"{\\"b\\":2,\\"b\\":3}"}'],
    ['strings in arrays look like names but are values', '{"groups":["sub","sub"],"sub":"x"}'],
    ['whitespace everywhere', ' { "a" : 1 , "b" : [ 1 , 2 ] , "c" : { "a" : 2 } } '],
    ['a scalar document', '"just a string"'],
  ])('finds none: %s', (_name, json) => {
    expect(JSON.parse(json)).toBeDefined();
    expect(findDuplicateMember(json)).toBeUndefined();
  });
});

describe('checkTokenShape', () => {
  it('passes an honest compact JWS and refuses the same one with a duplicate claim', async () => {
    const header = b64('{"alg":"RS256","kid":"k1"}');
    expect(() => checkTokenShape(`${header}.${b64('{"sub":"alice","exp":1}')}.c2ln`)).not.toThrow();
    await expectSluiceError(
      () => checkTokenShape(`${header}.${b64('{"sub":"alice","sub":"root"}')}.c2ln`),
      'SLUICE_ERR_AUTH_INVALID',
      /duplicate "sub" member in token payload/,
    );
  });

  it('does not echo a duplicate name that is long or unusual (unverified attacker text)', async () => {
    const name = `<script>${'x'.repeat(100)}`;
    const payload = b64(`{${JSON.stringify(name)}:1,${JSON.stringify(name)}:2}`);
    const err = await expectSluiceError(
      () => checkTokenShape(`${b64('{"alg":"RS256"}')}.${payload}.c2ln`),
      'SLUICE_ERR_AUTH_INVALID',
      /^invalid token: duplicate member in token payload/,
    );
    expect(err.message).not.toContain('script');
  });

  it('accepts a token of exactly MAX_TOKEN_BYTES and refuses one byte more', async () => {
    const prefix = `${b64('{"alg":"RS256"}')}.${b64('{"sub":"a"}')}.`;
    const exact = prefix + 'A'.repeat(MAX_TOKEN_BYTES - prefix.length);
    expect(() => checkTokenShape(exact)).not.toThrow();
    await expectSluiceError(() => checkTokenShape(`${exact}A`), 'SLUICE_ERR_AUTH_INVALID', /token exceeds 16384 bytes/);
  });
});
