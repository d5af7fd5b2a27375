/** Loading the configured bundle at start, building it first on embedded defaults. */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bundleCommand } from '../../../gateway/cli/cli-bundle.ts';
import { loadPolicyStore } from '../../../gateway/policy/load-policy.ts';
import { policyInput, tempDir, writePolicies } from '../../helpers/policy-fixtures.ts';

afterEach(() => vi.restoreAllMocks());

describe('loadPolicyStore', () => {
  it('builds a missing bundle from policiesDir when buildIfMissing, then loads it', async () => {
    const bundle = join(await tempDir(), 'build', 'sluice.tar.gz');
    const store = await loadPolicyStore({ bundle, buildIfMissing: true, policiesDir: 'policies' });
    expect((await stat(bundle)).isFile()).toBe(true);
    expect(store.current()?.evaluateWithResult(policyInput()).decision.kind).toBe('allow');
  });

  it('loads an existing bundle without rebuilding it', async () => {
    const bundle = join(await tempDir(), 'sluice.tar.gz');
    await loadPolicyStore({ bundle, buildIfMissing: true, policiesDir: 'policies' });
    const before = (await stat(bundle)).mtimeMs;
    // A broken policies dir proves no rebuild happens: it would fail.
    const broken = await writePolicies({ 'sluice/decision.rego': 'package sluice\n\ndecision := {' });
    await loadPolicyStore({ bundle, buildIfMissing: true, policiesDir: broken });
    expect((await stat(bundle)).mtimeMs).toBe(before);
  });

  it('refuses to start without a bundle when buildIfMissing is off', async () => {
    const bundle = join(await tempDir(), 'missing.tar.gz');
    await expect(loadPolicyStore({ bundle, buildIfMissing: false, policiesDir: 'policies' })).rejects.toThrow(
      /policy bundle .*missing\.tar\.gz does not exist/,
    );
  });

  it('says which file was missing and why building it failed', async () => {
    const bundle = join(await tempDir(), 'sluice.tar.gz');
    const broken = await writePolicies({
      'sluice/decision.rego': 'package sluice\n\ndecision := {"allow": http.send({})}\n',
    });
    await expect(loadPolicyStore({ bundle, buildIfMissing: true, policiesDir: broken })).rejects.toThrow(
      new RegExp(
        `policy bundle ${bundle.replace(/[.]/g, '\\.')} is missing and building it from ${broken} failed: ` +
          `[\\s\\S]*undefined function http\\.send`,
      ),
    );
  });

  it('refuses a bundle that does not evaluate', async () => {
    const file = join(await tempDir(), 'garbage.tar.gz');
    await writeFile(file, 'x');
    await expect(loadPolicyStore({ bundle: file, buildIfMissing: true, policiesDir: 'policies' })).rejects.toThrow(
      /garbage\.tar\.gz is not a readable/,
    );
  });
});

describe('sluice bundle build', () => {
  it('builds to --out with --revision and prints the revision and path', async () => {
    const out = join(await tempDir(), 'b.tar.gz');
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    expect(await bundleCommand(['build', '--policies', 'policies', '--out', out, '--revision', 'cli-1'])).toBe(0);
    expect(printed.join('')).toMatch(
      new RegExp(
        `bundle built: ${out.replace(/[.]/g, '\\.')} \\(revision cli-1, \\d+ tests pass on WASM too, \\d+ ms\\)`,
      ),
    );
    expect((await readFile(out)).length).toBeGreaterThan(1000);
  });

  it('answers a usage error with exit code 2 and lets build errors surface', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await bundleCommand([])).toBe(2);
    expect(await bundleCommand(['push'])).toBe(2);
    await expect(bundleCommand(['build', '--policies', '/nonexistent'])).rejects.toThrow(
      /policy directory \/nonexistent does not exist/,
    );
    await expect(bundleCommand(['build', '--bogus'])).rejects.toThrow(/Unknown option '--bogus'/);
  });
});
