/**
 * The policy test command as an author runs it (`bash scripts/test-policies.sh DIR`, the real OPA
 * CLI): a failing Rego test is named with its file and line however many tests pass after it,
 * and the command exits non-zero.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/policy-fixtures.ts';

/** Runs the policy test command on `dir`; its exit code and everything it printed. */
function testPolicies(dir: string): Promise<{ code: number; out: string }> {
  return promisify(execFile)('bash', ['scripts/test-policies.sh', dir]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
  );
}

describe('scripts/test-policies.sh', () => {
  it('names a failing test with file and line, even with many passing tests after it', async () => {
    const dir = join(await tempDir('sluice-test-policies-'), 'policies');
    await mkdir(dir);
    await writeFile(join(dir, 'a.rego'), 'package a\n\nx := 1\n');
    await writeFile(join(dir, 'a_test.rego'), 'package a_test\n\nimport data.a\n\ntest_x_is_two if a.x == 2\n');
    const passing = Array.from({ length: 80 }, (_, i) => `test_ok_${i} if a.x == 1`).join('\n\n');
    await writeFile(join(dir, 'z_test.rego'), `package z_test\n\nimport data.a\n\n${passing}\n`);
    const run = await testPolicies(dir);
    expect(run.code).not.toBe(0);
    expect(run.out).toMatch(/a_test\.rego:5:\s*\ndata\.a_test\.test_x_is_two: FAIL/);
    expect(run.out).toMatch(/FAIL: 1\/81/);
  });

  it("fails on a rule that passes opa test but fails on the gateway's WASM engine (sprintf %q)", async () => {
    const dir = join(await tempDir('sluice-test-policies-'), 'policies');
    await cp('policies', dir, { recursive: true });
    await writeFile(
      join(dir, 'sluice', 'quoted.rego'),
      'package sluice\n\nquoted_tool_reason(name) := sprintf("tool %q is not allowed", [name])\n',
    );
    const test =
      'package sluice_test\n\nimport data.sluice\n\n' +
      'test_quoted_reason if sluice.quoted_tool_reason("bash") == `tool "bash" is not allowed`\n';
    await writeFile(join(dir, 'sluice', 'quoted_test.rego'), test);
    const run = await testPolicies(dir);
    expect(run.code).not.toBe(0);
    expect(run.out).toMatch(/PASS: \d+\/\d+/); // the interpreter is content
    expect(run.out).toMatch(
      new RegExp(
        /quoted_test\.rego:5 data\.sluice_test\.test_quoted_reason: passes on OPA's interpreter /.source +
          /but on the gateway's WASM engine fails: \[sprintf\] unexpected placeholder/.source,
      ),
    );
  });

  it('fails on a rule reading an input field the gateway never sets, naming the field and the right ones', async () => {
    const dir = join(await tempDir('sluice-test-policies-'), 'policies');
    await cp('policies', dir, { recursive: true });
    const typo = 'package sluice\n\ndata_science if "data-science" in input.identity.group\n';
    await writeFile(join(dir, 'sluice', 'typo.rego'), typo);
    const test = 'package sluice_test\n\nimport data.sluice\n\ntest_never if not sluice.data_science\n';
    await writeFile(join(dir, 'sluice', 'typo_test.rego'), test);
    const run = await testPolicies(dir);
    expect(run.code).not.toBe(0);
    expect(run.out).toMatch(/typo\.rego:3: rego_type_error: undefined ref: input\.identity\.group/);
    expect(run.out).toMatch(/want \(one of\): \[.*"groups".*\]/);
  });

  it('fails on a new policy file without tests, though the total coverage stays above the floor', async () => {
    const dir = join(await tempDir('sluice-test-policies-'), 'policies');
    await cp('policies', dir, { recursive: true });
    const untested =
      'package sluice\n\nuntested_reasons contains "friday" if input.now == "friday"\n\n' +
      'untested_reasons contains "late" if input.connection == "late"\n';
    await writeFile(join(dir, 'sluice', 'untested.rego'), untested);
    const run = await testPolicies(dir);
    expect(run.code).not.toBe(0);
    expect(run.out).toMatch(/policy files: 9\d\.\d+% /);
    expect(run.out).toMatch(/coverage below 90% in .*untested\.rego \(0%\)/);
  });

  it('fails on a custom-entity pattern the gateway would refuse at load, naming it', async () => {
    const dir = join(await tempDir('sluice-test-policies-'), 'policies');
    await cp('policies', dir, { recursive: true });
    const dataFile = join(dir, 'sluice', 'data.json');
    const data = JSON.parse(await readFile(dataFile, 'utf8')) as { masking: { custom_entities: unknown[] } };
    data.masking.custom_entities.push({ type: 'PROJECT_CODE', pattern: 'PRJ-([0-9]+)+', max_length: 20 });
    await writeFile(dataFile, JSON.stringify(data, null, 2));
    const run = await testPolicies(dir);
    expect(run.code).not.toBe(0);
    expect(run.out).toMatch(/the gateway would refuse this bundle: .*custom_entities: \d+ \(PROJECT_CODE\)/);
  });
});
