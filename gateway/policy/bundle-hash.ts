/**
 * File digests exactly as OPA's bundle signing computes them (open-policy-agent/opa
 * v1/bundle/hash.go): raw bytes for Rego and WASM; for structured files (data.json, .manifest,
 * .signatures.json, data.yaml) the JSON value with object keys sorted and numbers kept as
 * written, so whitespace and key order do not change the digest.
 *
 * Own code: no JSON library reproduces Go's encoding (literal numbers, sorted keys, Go's escapes).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

/** The digest algorithms OPA names in `.signatures.json`, mapped to node:crypto; weak ones are refused. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA3-256': 'sha3-256',
  'SHA3-512': 'sha3-512',
};

/** Files whose digest is taken over their JSON value rather than their bytes (OPA's IsStructuredDoc). */
export function isStructuredDoc(name: string): boolean {
  return ['data.json', 'data.yaml', '.signatures.json', '.manifest'].includes(posix.basename(name));
}

/** A number as written in the source, so 1.0 stays 1.0 as it does in Go's json.Number. */
class JsonNumber {
  constructor(readonly literal: string) {}
}

type Canon = null | boolean | string | JsonNumber | Canon[] | { [key: string]: Canon };

/** A strict JSON reader that keeps number literals; throws on anything that is not one JSON value. */
function parseCanonical(text: string): Canon {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`invalid JSON at offset ${i}: ${what}`);
  };
  const value = (depth: number): Canon => {
    if (depth > 512) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: Canon } = Object.create(null) as { [key: string]: Canon };
      ws();
      if (text[i] === '}') return (i++, obj);
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        obj[key] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return (i++, obj);
        else fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: Canon[] = [];
      ws();
      if (text[i] === ']') return (i++, arr);
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return (i++, arr);
        else fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) return ((i += word.length), v);
    }
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!num) return fail('unexpected character');
    i += num[0].length;
    return new JsonNumber(num[0]);
  };
  const string = (): string => {
    // eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in a string: the point here
    const end = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
    if (!end) return fail('bad string');
    i += end[0].length;
    return JSON.parse(end[0]) as string;
  };
  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return result;
}

/**
 * Go's json.Encoder with SetEscapeHTML(false): like JSON.stringify, plus \u2028/\u2029 escaped and lone surrogates
 * replaced.
 */
function encodeString(s: string): string {
  return JSON.stringify((s as unknown as { toWellFormed(): string }).toWellFormed()).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

function write(v: Canon, out: string[]): void {
  if (v instanceof JsonNumber) out.push(v.literal);
  else if (typeof v === 'string') out.push(encodeString(v));
  else if (v === null || typeof v === 'boolean') out.push(String(v));
  else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((e, n) => (n > 0 && out.push(','), write(e, out)));
    out.push(']');
  } else {
    out.push('{');
    // Go sorts by byte order of the UTF-8 key; for UTF-16 strings the code point order matches it.
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    keys.forEach((k, n) => (n > 0 && out.push(','), out.push(encodeString(k), ':'), write(v[k]!, out)));
    out.push('}');
  }
}

/** The canonical form OPA hashes for a structured document. */
export function canonicalJson(text: string): string {
  const out: string[] = [];
  write(parseCanonical(text), out);
  return out.join('');
}

/** Hex digest of bundle file `name` as OPA computes it; throws on an unsupported algorithm or bad JSON. */
export function hashBundleFile(name: string, content: Buffer, algorithm = 'SHA-256'): string {
  const nodeAlg = ALGORITHMS[algorithm];
  if (!nodeAlg)
    throw new Error(
      `unsupported hash algorithm "${algorithm}" for ${name} (supported: ${Object.keys(ALGORITHMS).join(', ')})`,
    );
  const hash = createHash(nodeAlg);
  // opa build merges data into /data.json; a data.yaml would need OPA's YAML→JSON, so refuse it.
  if (posix.basename(name) === 'data.yaml')
    throw new Error(`${name}: data.yaml is not supported in signed bundles (opa build writes data.json)`);
  if (isStructuredDoc(name)) hash.update(canonicalJson(content.toString('utf8')));
  else hash.update(content);
  return hash.digest('hex');
}
