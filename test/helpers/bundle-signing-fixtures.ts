/**
 * Keys and bundle surgery for signature tests. Keys are generated at test time into a temp
 * directory (never committed); repack rewrites a bundle's files the way an attacker or a broken
 * pipeline would, keeping everything else byte for byte.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import { unpackBundle } from '../../gateway/policy/bundle-reader.ts';
import { tempDir } from './policy-fixtures.ts';

/** Paths of a freshly generated PEM key pair. */
export interface KeyFiles {
  readonly privateKey: string;
  readonly publicKey: string;
}

/** Generates an RSA (2048) or EC P-256 key pair into a temp dir. */
export async function keyPair(kind: 'rsa' | 'ec' = 'rsa'): Promise<KeyFiles> {
  const dir = await tempDir('sluice-keys-');
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privateKey = join(dir, 'bundle-signing.pem');
  const publicKey = join(dir, 'bundle-signing.pub.pem');
  await writeFile(privateKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, publicKey };
}

/** The files of a bundle, by name without the leading "/". */
export async function bundleFiles(bundle: string): Promise<Map<string, Buffer>> {
  const files = await unpackBundle(await readFile(bundle));
  return new Map([...files].map(([name, content]) => [name.slice(1), content]));
}

/** Writes a new bundle from `bundle` after `mutate` changed its file map; returns its path. */
export async function repack(bundle: string, mutate: (files: Map<string, Buffer>) => void): Promise<string> {
  const files = await bundleFiles(bundle);
  mutate(files);
  const root = await tempDir('sluice-repack-');
  for (const [name, content] of files) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), content);
  }
  const out = join(await tempDir('sluice-repacked-'), 'bundle.tar.gz');
  await create({ gzip: true, file: out, cwd: root, portable: true }, [...files.keys()]);
  return out;
}
