/**
 * Every bad bundle is refused while the last good one keeps serving: corrupt tarball, wrong
 * signature, unsigned with a key configured, a missing file, a trapping policy. Loads are
 * serialized, and a request that took an engine keeps it across a swap.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../../gateway/policy/bundle-build.ts';
import { loadVerificationKey } from '../../../gateway/policy/bundle-verify.ts';
import { PolicyLoader } from '../../../gateway/policy/policy-loader.ts';
import { policyMetricsText, policyReadiness } from '../../../gateway/policy/policy-metrics.ts';
import { PolicyStore } from '../../../gateway/policy/policy-store.ts';
import { keyPair, repack, type KeyFiles } from '../../helpers/bundle-signing-fixtures.ts';
import { policyInput, tempDir, writePolicies } from '../../helpers/policy-fixtures.ts';

let key: KeyFiles;
const bundles: Record<string, Buffer> = {};

async function build(name: string, rego: string | undefined, sign: string | undefined): Promise<Buffer> {
  const policiesDir =
    rego === undefined ? 'policies' : await writePolicies({ 'sluice/decision.rego': `package sluice\n\n${rego}\n` });
  const built = await buildBundle({
    policiesDir,
    outFile: join(await tempDir(), `${name}.tar.gz`),
    revision: name,
    ...(sign ? { signingKey: sign } : {}),
  });
  return readFile(built.file);
}

async function fileOf(bytes: Buffer): Promise<string> {
  const f = join(await tempDir(), 'b.tar.gz');
  await writeFile(f, bytes);
  return f;
}

beforeAll(async () => {
  key = await keyPair('rsa');
  const other = await keyPair('rsa');
  bundles.good1 = await build('good-1', undefined, key.privateKey);
  bundles.good2 = await build(
    'good-2',
    'decision := {"allow": false, "reasons": ["closed"], "labels": {"rule": "closed"}}',
    key.privateKey,
  );
  bundles.unsigned = await build('unsigned', undefined, undefined);
  bundles.otherKey = await build('other-key', undefined, other.privateKey);
  // Compiles and signs fine, but the smoke evaluation (max_tokens 1) hits a conflict: a trap.
  bundles.trapping = await build(
    'trapping',
    'decision := {"allow": true}\n\ndecision := {"allow": false} if input.request.max_tokens == 1',
    key.privateKey,
  );
  bundles.missingFile = await readFile(await repack(await fileOf(bundles.good2), (f) => f.delete('data.json')));
  bundles.corrupt = Buffer.concat([bundles.good2.subarray(0, 200), Buffer.from('garbage')]);
});

describe('PolicyLoader', () => {
  it('refuses each bad bundle and keeps serving the last good one', async () => {
    const store = new PolicyStore();
    const loader = new PolicyLoader(store, await loadVerificationKey(key.publicKey));
    expect(await loader.load(bundles.good1!, 'good-1')).toMatchObject({ kind: 'loaded', revision: 'good-1' });
    const cases: [string, RegExp][] = [
      ['corrupt', /policy bundle corrupt is not a readable \.tar\.gz/],
      ['otherKey', /refused: bundle signature rejected .*the signature does not match the public key/],
      ['unsigned', /refused: the bundle is not signed/],
      ['missingFile', /refused: file data\.json is signed but missing from the bundle/],
      ['trapping', /policy bundle trapping does not evaluate: .*conflict/],
    ];
    for (const [name, message] of cases) {
      const result = await loader.load(bundles[name]!, name);
      expect(result.kind, name).toBe('refused');
      expect(result.kind === 'refused' && result.error.message, name).toMatch(message);
      expect(store.current()!.revision, name).toBe('good-1');
      expect(store.current()!.evaluateWithResult(policyInput()).decision.kind).toBe('allow');
    }
    expect(store.status()).toMatchObject({
      revision: 'good-1',
      swaps: 1,
      failures: cases.length,
      lastFailure: { source: 'trapping' },
    });
    expect(policyReadiness(store)).toMatchObject({
      revision: 'good-1',
      failures: 5,
      last_failure: { source: 'trapping' },
    });
    expect(policyMetricsText(store)).toMatch(
      /sluice_policy_bundle_info\{revision="good-1"\} 1\n[\s\S]*sluice_policy_bundle_failures_total 5\n/,
    );
    // A good bundle after all that is taken.
    expect(await loader.load(bundles.good2!, 'good-2')).toMatchObject({ kind: 'loaded', revision: 'good-2' });
  });

  it('without a key, loads unsigned and signed bundles alike', async () => {
    const store = new PolicyStore();
    const loader = new PolicyLoader(store, undefined);
    expect((await loader.load(bundles.unsigned!, 'u')).kind).toBe('loaded');
    expect((await loader.load(bundles.good2!, 'g')).kind).toBe('loaded');
    expect(store.current()!.revision).toBe('good-2');
  });

  it('skips bytes it already loaded or refused', async () => {
    const loader = new PolicyLoader(new PolicyStore(), undefined);
    expect((await loader.load(bundles.good1!, 'a')).kind).toBe('loaded');
    expect((await loader.load(bundles.good1!, 'a')).kind).toBe('unchanged');
    expect((await loader.load(bundles.corrupt!, 'c')).kind).toBe('refused');
    expect((await loader.load(bundles.corrupt!, 'c')).kind).toBe('unchanged');
    expect(loader.store.status().failures).toBe(1);
  });

  it('serializes loads: the last bundle asked for wins, whatever finishes first', async () => {
    const store = new PolicyStore();
    const loader = new PolicyLoader(store, undefined);
    const results = await Promise.all([
      loader.load(bundles.good2!, 'g2'),
      loader.load(bundles.unsigned!, 'u'),
      loader.load(bundles.good1!, 'g1'),
    ]);
    expect(results.map((r) => r.kind)).toEqual(['loaded', 'loaded', 'loaded']);
    expect(store.current()!.revision).toBe('good-1');
    expect(store.status().swaps).toBe(3);
  });

  it('a request that took the engine before a swap finishes on it', async () => {
    const store = new PolicyStore();
    const loader = new PolicyLoader(store, undefined);
    await loader.load(bundles.good1!, 'g1');
    const taken = store.current()!;
    await loader.load(bundles.good2!, 'g2');
    expect(taken.evaluateWithResult(policyInput()).decision.kind).toBe('allow');
    expect(store.current()!.evaluateWithResult(policyInput()).decision).toMatchObject({
      kind: 'deny',
      reasons: ['closed'],
    });
  });
});
