/**
 * The real OPA CLI building real bundles: the shipped policies, and policies that must be
 * refused at build time because opa-wasm could not run them.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { list } from 'tar';
import { describe, expect, it } from 'vitest';
import { buildBundle, defaultOpaBin, defaultRevision } from '../../../gateway/policy/bundle-build.ts';
import { readBundle } from '../../../gateway/policy/bundle-reader.ts';
import { PolicyEngine } from '../../../gateway/policy/wasm-engine.ts';
import { bundleOf, policyInput, tempDir, writePolicies } from '../../helpers/policy-fixtures.ts';

async function entriesOf(file: string): Promise<string[]> {
  const names: string[] = [];
  await list({ file, onReadEntry: (e) => void names.push(e.path) });
  return names.sort();
}

describe('buildBundle', () => {
  it('builds policies/ into a WASM bundle with data, a revision and restricted capabilities', async () => {
    const out = join(await tempDir(), 'nested', 'sluice.tar.gz');
    const built = await buildBundle({ policiesDir: 'policies', outFile: out, revision: 'r-123' });
    expect(built).toMatchObject({ file: out, revision: 'r-123' });
    // Test files and the Rego-only text-rule fallback are left out, and paths are relative (no build machine paths in
    // the bundle).
    const rego = (await readdir('policies', { recursive: true }))
      .filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego') && !f.endsWith('text_rules_fallback.rego'))
      .map((f) => `/${f}`);
    expect(rego).toContain('/sluice/text_rules.rego');
    expect(await entriesOf(out)).toEqual(['/.manifest', '/data.json', '/policy.wasm', ...rego].sort());
    // The shipped policies never read the prompt text itself: the gateway need not copy it into WASM.
    expect(built.policyReadsText).toBe(false);
    expect((await readBundle(out)).manifest.metadata).toEqual({ sluice: { policy_reads_text: false } });
    const capabilities = JSON.parse(await readFile(built.capabilitiesFile, 'utf8')) as { builtins: { name: string }[] };
    const names = capabilities.builtins.map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['glob.match', 'sprintf', 'regex.split']));
    expect(names).not.toContain('http.send');
    expect((await PolicyEngine.fromBundle(out)).revision).toBe('r-123');
  });

  it('defaults the revision to the git short sha, or dev-<timestamp> when the tree differs', async () => {
    expect(await defaultRevision('policies')).toMatch(/^([0-9a-f]{7,}|dev-\d{8}T\d{6}Z)$/);
    const outside = await tempDir();
    expect(await defaultRevision(outside, new Date('2025-03-04T05:06:07.890Z'))).toBe('dev-20250304T050607Z');
  });

  it.each([
    ['http.send', 'decision := {"allow": false, "reasons": [http.send({"method": "GET", "url": "http://x"}).body]}'],
    ['time.parse_rfc3339_ns', 'decision := {"allow": time.parse_rfc3339_ns(input.now) > 0}'],
    ['time.now_ns', 'decision := {"allow": time.now_ns() > 0}'],
  ])('fails the build, not a request, on %s (no opa-wasm implementation)', async (builtin, rego) => {
    const dir = await writePolicies({ 'sluice/decision.rego': `package sluice\n\n${rego}\n` });
    const out = join(await tempDir(), 'sluice.tar.gz');
    await expect(buildBundle({ policiesDir: dir, outFile: out, revision: 'x' })).rejects.toThrow(
      new RegExp(`opa build of .* failed:[\\s\\S]*undefined function ${builtin.replace(/\./g, '\\.')}`),
    );
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
    // The same policy compiles without the capabilities file: the restriction is what refuses it.
    const run = promisify(execFile);
    await expect(
      run(defaultOpaBin(), [
        'build',
        '-t',
        'wasm',
        '-e',
        'sluice/decision',
        '-o',
        join(await tempDir(), 'b.tar.gz'),
        dir,
      ]),
    ).resolves.toBeDefined();
  });

  it('accepts the builtins opa-wasm implements in JavaScript, and they evaluate', async () => {
    const engine = await PolicyEngine.fromBundle(
      await bundleOf(
        'decision := {"allow": false, "reasons": [sprintf("%s has %d groups", ' +
          '[input.identity.sub, count(input.identity.groups)])]}',
      ),
    );
    expect(engine.evaluateWithResult(policyInput()).decision.reasons).toEqual(['alice has 1 groups']);
  });

  it("reports OPA's own message for a syntax error, with the file and line", async () => {
    const dir = await writePolicies({ 'sluice/decision.rego': 'package sluice\n\ndecision := {"allow": \n' });
    await expect(
      buildBundle({ policiesDir: dir, outFile: join(await tempDir(), 'b.tar.gz'), revision: 'x' }),
    ).rejects.toThrow(/sluice\/decision\.rego:\d+: rego_parse_error/);
  });

  it('names the missing directory or OPA binary', async () => {
    await expect(buildBundle({ policiesDir: '/nonexistent/policies', outFile: '/tmp/x.tar.gz' })).rejects.toThrow(
      /policy directory \/nonexistent\/policies does not exist/,
    );
    await expect(
      buildBundle({ policiesDir: 'policies', outFile: '/tmp/x.tar.gz', opaBin: '/nonexistent/opa' }),
    ).rejects.toThrow(/OPA CLI not found at \/nonexistent\/opa/);
  });

  it.each([
    ['the text itself', 'decision := {"allow": contains(input.request.text, "ok")}', true],
    ['the request by a computed key', 'decision := {"allow": count([k | input.request[k]]) > 0}', true],
    [
      'the input handed whole to a builtin',
      'decision := {"allow": object.get(input, ["request", "model"], "") != ""}',
      true,
    ],
    ['an alias of the request', 'decision := {"allow": r.text == ""} if r := input.request', true],
    [
      "only other fields and the gateway's text matches",
      'default decision := {"allow": false}\n' +
        'decision := {"allow": true} if { input.request.model != ""; not input.request.text_matches.keywords[0] }',
      false,
    ],
  ])('records in the manifest whether the policy reads the prompt text: %s', async (_, rego, reads) => {
    const dir = await writePolicies({ 'sluice/decision.rego': `package sluice\n\n${rego}\n` });
    const built = await buildBundle({ policiesDir: dir, outFile: join(await tempDir(), 'b.tar.gz'), revision: 'x' });
    expect(built.policyReadsText).toBe(reads);
    expect((await PolicyEngine.fromBundle(built.file)).readsText).toBe(reads);
  });

  it(
    "overrides a hand-written claim in the policies' .manifest, " +
      'keeps its other fields, and leaves the directory untouched',
    async () => {
      const manifest = JSON.stringify({ metadata: { owner: 'security', sluice: { policy_reads_text: false } } });
      const dir = await writePolicies({
        'sluice/decision.rego': 'package sluice\n\ndecision := {"allow": startswith(input.request.text, "hi")}\n',
        '.manifest': manifest,
      });
      const built = await buildBundle({ policiesDir: dir, outFile: join(await tempDir(), 'b.tar.gz'), revision: 'x' });
      expect((await readBundle(built.file)).manifest.metadata).toEqual({
        owner: 'security',
        sluice: { policy_reads_text: true },
      });
      expect(await readFile(join(dir, '.manifest'), 'utf8')).toBe(manifest);
    },
  );
});
