/**
 * Verifies a bundle's `.signatures.json` the way OPA does (v1/bundle/verify.go): exactly one
 * JWT, signed by the configured public key, whose `files` list names every file of the bundle
 * (except .signatures.json) with its digest. A file added, removed or changed after signing,
 * or a bundle without a signature, is refused.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { compactVerify, errors as joseErrors } from 'jose';
import { z } from 'zod';
import { hashBundleFile } from './bundle-hash.ts';

/** The name OPA gives the signature file at the bundle root. */
export const SIGNATURES_FILE = '.signatures.json';

const signaturesSchema = z.object({ signatures: z.array(z.string()), plugin: z.string().optional() });
const payloadSchema = z.looseObject({
  files: z.array(z.object({ name: z.string(), hash: z.string().regex(/^[0-9a-f]+$/i), algorithm: z.string() })).min(1),
  keyid: z.string().optional(),
  scope: z.string().optional(),
});

/** Signing algorithms accepted per key type: an RSA key never verifies an ES256 token and vice versa. */
const ALGORITHMS_BY_KEY: Readonly<Record<string, readonly string[]>> = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'rsa-pss': ['PS256', 'PS384', 'PS512'],
  ec: ['ES256', 'ES384', 'ES512'],
  ed25519: ['EdDSA'],
};

/** A public key to verify bundle signatures with. */
export interface BundleVerificationKey {
  readonly key: KeyObject;
  readonly algorithms: readonly string[];
  /** Where the key came from, for messages. */
  readonly source: string;
}

/** What a successful verification proved. */
export interface VerifiedSignature {
  readonly algorithm: string;
  readonly keyId: string | undefined;
  /** The files checked, by name, in the order the signature lists them. */
  readonly files: readonly string[];
}

/** Thrown for every verification failure; the message says which file or step failed. */
export class BundleSignatureError extends Error {
  override readonly name = 'BundleSignatureError';
}

/** Reads a PEM (SPKI or certificate) public key file. */
export async function loadVerificationKey(path: string): Promise<BundleVerificationKey> {
  let key: KeyObject;
  try {
    key = createPublicKey(await readFile(path));
  } catch (err) {
    throw new Error(`cannot read the bundle public key ${path}: ${(err as Error).message}`, { cause: err });
  }
  const algorithms = ALGORITHMS_BY_KEY[key.asymmetricKeyType ?? ''];
  if (!algorithms)
    throw new Error(`bundle public key ${path} is a ${key.asymmetricKeyType} key; use an RSA, EC or Ed25519 key`);
  return { key, algorithms, source: path };
}

function bundleName(path: string): string {
  return posix.normalize(`/${path}`).slice(1);
}

/**
 * Checks the signature of unpacked bundle `files` (names with or without a leading "/") against
 * `key`. Throws BundleSignatureError naming the problem; returns what was verified.
 */
export async function verifyBundleSignature(
  files: ReadonlyMap<string, Buffer>,
  key: BundleVerificationKey,
): Promise<VerifiedSignature> {
  const byName = new Map([...files].map(([name, content]) => [bundleName(name), content]));
  const raw = byName.get(SIGNATURES_FILE);
  if (!raw)
    throw new BundleSignatureError(`the bundle is not signed (no ${SIGNATURES_FILE}) and a public key is configured`);
  let jwt: string;
  try {
    const parsed = signaturesSchema.parse(JSON.parse(raw.toString('utf8')));
    if (parsed.signatures.length !== 1)
      throw new Error(`expected exactly one signature, found ${parsed.signatures.length}`);
    jwt = parsed.signatures[0]!;
  } catch (err) {
    throw new BundleSignatureError(`${SIGNATURES_FILE} is malformed: ${(err as Error).message}`, { cause: err });
  }

  let payload: z.infer<typeof payloadSchema>;
  let algorithm: string;
  try {
    const verified = await compactVerify(jwt, key.key, { algorithms: [...key.algorithms] });
    algorithm = verified.protectedHeader.alg;
    payload = payloadSchema.parse(JSON.parse(new TextDecoder().decode(verified.payload)));
  } catch (err) {
    const why =
      err instanceof joseErrors.JWSSignatureVerificationFailed
        ? 'the signature does not match the public key'
        : (err as Error).message;
    throw new BundleSignatureError(`bundle signature rejected (key ${key.source}): ${why}`, { cause: err });
  }

  // Every file of the bundle must be signed, and every signed file must be there, unchanged.
  const unsigned = new Set([...byName.keys()].filter((n) => n !== SIGNATURES_FILE));
  for (const entry of payload.files) {
    const name = bundleName(entry.name);
    const content = byName.get(name);
    if (name === SIGNATURES_FILE) throw new BundleSignatureError(`the signature lists ${SIGNATURES_FILE} itself`);
    if (!content) throw new BundleSignatureError(`file ${name} is signed but missing from the bundle`);
    if (!unsigned.delete(name)) throw new BundleSignatureError(`file ${name} is listed twice in the signature`);
    let actual: string;
    try {
      actual = hashBundleFile(name, content, entry.algorithm);
    } catch (err) {
      throw new BundleSignatureError(`file ${name} cannot be checked: ${(err as Error).message}`, { cause: err });
    }
    if (actual !== entry.hash.toLowerCase())
      throw new BundleSignatureError(
        `file ${name} does not match its signed digest ` +
          `(${entry.algorithm} ${entry.hash.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`,
      );
  }
  if (unsigned.size > 0)
    throw new BundleSignatureError(`file(s) not covered by the signature: ${[...unsigned].sort().join(', ')}`);
  return { algorithm, keyId: payload.keyid, files: payload.files.map((f) => bundleName(f.name)) };
}
