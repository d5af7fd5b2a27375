/**
 * Signed bundles end to end: OPA signs at build (RS256, ES256), Sluice verifies file by file,
 * and every kind of tampering, a wrong key and a missing signature are refused.
 */
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bundleCommand } from '../../../gateway/cli/cli-bundle.ts';
import { buildBundle } from '../../../gateway/policy/bundle-build.ts';
import { unpackFile } from '../../../gateway/policy/bundle-reader.ts';
import { loadVerificationKey, verifyBundleSignature } from '../../../gateway/policy/bundle-verify.ts';
import { bundleFiles, keyPair, repack, type KeyFiles } from '../../helpers/bundle-signing-fixtures.ts';
import { tempDir } from '../../helpers/policy-fixtures.ts';

let rsa: KeyFiles;
let ec: KeyFiles;
let signed: string;

async function verify(bundle: string, publicKey: string) {
  return verifyBundleSignature(await unpackFile(bundle), await loadVerificationKey(publicKey));
}

beforeAll(async () => {
  [rsa, ec] = await Promise.all([keyPair('rsa'), keyPair('ec')]);
  signed = (
    await buildBundle({
      policiesDir: 'policies',
      outFile: join(await tempDir(), 'signed.tar.gz'),
      revision: 'signed-1',
      signingKey: rsa.privateKey,
    })
  ).file;
});

afterEach(() => vi.restoreAllMocks());

describe('signed bundles', () => {
  it('OPA signs every file (RS256 by default); Sluice verifies each digest', async () => {
    const files = await bundleFiles(signed);
    expect(files.has('.signatures.json')).toBe(true);
    const result = await verify(signed, rsa.publicKey);
    expect(result.algorithm).toBe('RS256');
    expect([...result.files].sort()).toEqual([...files.keys()].filter((n) => n !== '.signatures.json').sort());
    expect(result.files).toEqual(expect.arrayContaining(['policy.wasm', 'data.json', '.manifest']));
    // The private key never travels in the bundle.
    for (const content of files.values()) expect(content.toString('latin1')).not.toContain('PRIVATE KEY');
  });

  it('signs with ES256 when asked, and an EC key refuses an RSA signature', async () => {
    const es = (
      await buildBundle({
        policiesDir: 'policies',
        outFile: join(await tempDir(), 'es.tar.gz'),
        revision: 'es',
        signingKey: ec.privateKey,
        signingAlg: 'ES256',
      })
    ).file;
    expect((await verify(es, ec.publicKey)).algorithm).toBe('ES256');
    await expect(verify(signed, ec.publicKey)).rejects.toThrow(
      /bundle signature rejected .*"alg" \(Algorithm\) Header Parameter value not allowed/,
    );
  });

  it('refuses a bundle signed by another key', async () => {
    const other = await keyPair('rsa');
    await expect(verify(signed, other.publicKey)).rejects.toThrow(/the signature does not match the public key/);
  });

  it('refuses an unsigned bundle when a key is given', async () => {
    const unsigned = await repack(signed, (f) => f.delete('.signatures.json'));
    await expect(verify(unsigned, rsa.publicKey)).rejects.toThrow(/the bundle is not signed \(no \.signatures\.json\)/);
  });

  it('refuses a changed, a missing or an added file, naming it', async () => {
    const changed = await repack(signed, (f) =>
      f.set(
        'data.json',
        Buffer.from(f.get('data.json')!.toString().replace('"max_tokens":2048', '"max_tokens":999999')),
      ),
    );
    await expect(verify(changed, rsa.publicKey)).rejects.toThrow(/file data\.json does not match its signed digest/);
    const missing = await repack(signed, (f) => f.delete('sluice/grants.rego'));
    await expect(verify(missing, rsa.publicKey)).rejects.toThrow(
      /file sluice\/grants\.rego is signed but missing from the bundle/,
    );
    const added = await repack(signed, (f) => f.set('sluice/backdoor.rego', Buffer.from('package sluice\n')));
    await expect(verify(added, rsa.publicKey)).rejects.toThrow(
      /file\(s\) not covered by the signature: sluice\/backdoor\.rego/,
    );
    const wasm = await repack(signed, (f) =>
      f.set('policy.wasm', Buffer.concat([f.get('policy.wasm')!, Buffer.from([0])])),
    );
    await expect(verify(wasm, rsa.publicKey)).rejects.toThrow(/file policy\.wasm does not match/);
  });

  it('accepts a JSON file re-serialised without a semantic change, as OPA does', async () => {
    const reformatted = await repack(signed, (f) =>
      f.set('data.json', Buffer.from(JSON.stringify(JSON.parse(f.get('data.json')!.toString()), null, 4))),
    );
    await expect(verify(reformatted, rsa.publicKey)).resolves.toMatchObject({ algorithm: 'RS256' });
  });

  it('refuses a malformed signature file', async () => {
    const two = await repack(signed, (f) => {
      const s = JSON.parse(f.get('.signatures.json')!.toString()) as { signatures: string[] };
      f.set('.signatures.json', Buffer.from(JSON.stringify({ signatures: [s.signatures[0], s.signatures[0]] })));
    });
    await expect(verify(two, rsa.publicKey)).rejects.toThrow(/expected exactly one signature, found 2/);
    const garbage = await repack(signed, (f) => f.set('.signatures.json', Buffer.from('{"signatures": ["a.b.c"]}')));
    await expect(verify(garbage, rsa.publicKey)).rejects.toThrow(/bundle signature rejected/);
  });
});

describe('sluice bundle build --sign / verify', () => {
  it('builds a signed bundle and verifies it (exit 0), a tampered one fails (exit 1)', async () => {
    const out = join(await tempDir(), 'cli.tar.gz');
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    expect(
      await bundleCommand([
        'build',
        '--out',
        out,
        '--revision',
        'cli-s',
        '--sign',
        ec.privateKey,
        '--signing-alg',
        'ES256',
      ]),
    ).toBe(0);
    expect(printed.join('')).toMatch(/revision cli-s, signed ES256/);
    expect(await bundleCommand(['verify', out, '--key', ec.publicKey])).toBe(0);
    expect(printed.join('')).toMatch(/signature OK \(ES256, keyid default\)[\s\S]*ok {2}policy\.wasm/);
    const tampered = await repack(out, (f) => f.set('sluice/decision.rego', Buffer.from('package sluice\n')));
    expect(await bundleCommand(['verify', tampered, '--key', ec.publicKey])).toBe(1);
    expect(printed.join('')).toMatch(/verification FAILED: file sluice\/decision\.rego does not match/);
  });

  it('answers usage errors with exit code 2', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await bundleCommand(['verify', signed])).toBe(2);
    expect(await bundleCommand(['build', '--signing-alg', 'HS256', '--sign', rsa.privateKey])).toBe(2);
    expect(await bundleCommand(['build', '--signing-alg', 'ES256'])).toBe(2);
    await expect(
      bundleCommand(['build', '--sign', '/nonexistent/key.pem', '--out', join(await tempDir(), 'x.tar.gz')]),
    ).rejects.toThrow(/signing key \/nonexistent\/key\.pem does not exist/);
  });
});
