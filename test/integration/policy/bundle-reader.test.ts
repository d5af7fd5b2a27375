import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from 'tar';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { readBundle } from '../../../gateway/policy/bundle-reader.ts';
import { tempDir } from '../../helpers/policy-fixtures.ts';

const WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
let dir: string;

/** Packs `files` (path in the bundle → content) into a .tar.gz the way opa build does. */
async function pack(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const root = join(dir, `${name}.d`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  const file = join(dir, `${name}.tar.gz`);
  await create({ gzip: true, file, cwd: root, portable: true }, Object.keys(files));
  return file;
}

beforeAll(async () => {
  dir = await tempDir('sluice-reader-');
});

describe('readBundle', () => {
  it('reads the real bundle: WASM module, data under data.sluice, manifest revision', async () => {
    const bundle = await readBundle(inject('policyBundle'));
    expect(bundle.wasm.subarray(0, 4)).toEqual(WASM.subarray(0, 4));
    expect(bundle.manifest.revision).toBe('test');
    expect(bundle.manifest.wasm).toEqual([
      { entrypoint: 'sluice/decision', module: '/policy.wasm' },
      { entrypoint: 'sluice/text_rules', module: '/policy.wasm' },
    ]);
    expect(Object.keys((bundle.data.sluice as { groups: object }).groups).sort()).toEqual([
      'admins',
      'ci',
      'engineering',
    ]);
  });

  it('merges every data.json at its directory path and follows the manifest to the module', async () => {
    const file = await pack('merge', {
      '.manifest': JSON.stringify({ revision: 'r1', wasm: [{ entrypoint: 'sluice/decision', module: '/sub/m.wasm' }] }),
      'sub/m.wasm': WASM,
      'data.json': JSON.stringify({ top: 1 }),
      'a/b/data.json': JSON.stringify({ x: true }),
      'a/c/data.json': JSON.stringify({ y: [1] }),
    });
    const bundle = await readBundle(file);
    expect(bundle.wasm).toEqual(WASM);
    expect(bundle.manifest.revision).toBe('r1');
    expect(bundle.data).toEqual({ top: 1, a: { b: { x: true }, c: { y: [1] } } });
  });

  it('refuses a bundle without the WASM module', async () => {
    const file = await pack('nowasm', { '.manifest': '{"revision":"r"}', 'data.json': '{}' });
    await expect(readBundle(file)).rejects.toThrow(/nowasm\.tar\.gz has no WASM module at \/policy\.wasm/);
  });

  it('refuses corrupt, truncated and non-tar files with the file name', async () => {
    const garbage = join(dir, 'garbage.tar.gz');
    await writeFile(garbage, Buffer.from('this is not a gzip stream at all, just text'.repeat(20)));
    await expect(readBundle(garbage)).rejects.toThrow(/garbage\.tar\.gz is not a readable \.tar\.gz/);

    const good = await readFile(inject('policyBundle'));
    const truncated = join(dir, 'truncated.tar.gz');
    await writeFile(truncated, good.subarray(0, Math.floor(good.length / 2)));
    await expect(readBundle(truncated)).rejects.toThrow(/truncated\.tar\.gz is not a readable/);

    await expect(readBundle(join(dir, 'absent.tar.gz'))).rejects.toThrow(/absent\.tar\.gz is not a readable .*ENOENT/);
  });

  it('refuses invalid JSON, an invalid manifest and conflicting data', async () => {
    await expect(readBundle(await pack('badjson', { 'policy.wasm': WASM, 'data.json': '{nope' }))).rejects.toThrow(
      /invalid JSON in \/data\.json/,
    );
    await expect(
      readBundle(await pack('badmanifest', { 'policy.wasm': WASM, '.manifest': '{"revision": 42}' })),
    ).rejects.toThrow(/invalid \.manifest: revision/);
    const conflict = await pack('conflict', {
      'policy.wasm': WASM,
      'data.json': '{"a": {"b": 1}}',
      'a/b/data.json': '{"c": 2}',
    });
    await expect(readBundle(conflict)).rejects.toThrow(/conflicting data/);
    await expect(readBundle(await pack('notobject', { 'policy.wasm': WASM, 'data.json': '[1,2]' }))).rejects.toThrow(
      /must hold a JSON object/,
    );
  });
});
