/**
 * The Rego tests, run again on the engine the gateway runs. `opa test` evaluates with OPA's
 * interpreter; the gateway evaluates the compiled WebAssembly with opa-wasm's builtins, and the
 * two differ (a `sprintf("%q", …)` passes every `opa test` and fails every gateway call). Every
 * test that passes on the interpreter is compiled as a WASM entrypoint, with the same capabilities
 * as the bundle, and must evaluate to true on opa-wasm too.
 */
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseBundle, unpackFile } from '../policy/bundle-reader.ts';
import { writeWasmCapabilities } from '../policy/capabilities.ts';

const run = promisify(execFile);

/** One result of `opa test --format json`. */
interface OpaTestResult {
  readonly location?: { readonly file: string; readonly row: number };
  readonly package: string;
  readonly name: string;
  readonly fail?: boolean;
  readonly error?: unknown;
  readonly skip?: boolean;
}

/** What running the tests on WASM found: `problems` empty means both engines agree. */
export interface WasmTestReport {
  /** Tests that pass on the interpreter and were evaluated on WASM. */
  readonly tests: number;
  /** One line per disagreement: `file:row package.name: …`. */
  readonly problems: readonly string[];
}

/** Runs the tests of `policiesDir` on the interpreter, then every passing one on opa-wasm. */
export async function runTestsOnWasm(args: { policiesDir: string; opaBin: string }): Promise<WasmTestReport> {
  const dir = resolve(args.policiesDir);
  // opa test exits 2 when a test fails; its JSON report is on stdout either way.
  const { stdout } = await run(args.opaBin, ['test', dir, '--format', 'json'], { maxBuffer: 64 * 1024 * 1024 }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '[]' }),
  );
  const passing = (JSON.parse(stdout || '[]') as OpaTestResult[]).filter((t) => !t.fail && !t.error && !t.skip);
  if (passing.length === 0) return { tests: 0, problems: [] };
  const where = (t: OpaTestResult): string =>
    `${t.location ? `${t.location.file}:${t.location.row} ` : ''}${t.package}.${t.name}`;
  const entrypointOf = (t: OpaTestResult): string =>
    `${t.package.replace(/^data\./, '')}.${t.name}`.replace(/\./g, '/');

  const work = await mkdtemp(join(tmpdir(), 'sluice-wasm-tests-'));
  try {
    const capabilities = join(work, 'capabilities.json');
    await writeWasmCapabilities({ opaBin: args.opaBin, outFile: capabilities });
    const out = join(work, 'tests.tar.gz');
    const entrypoints = passing.flatMap((t) => ['-e', entrypointOf(t)]);
    try {
      await run(args.opaBin, ['build', '-t', 'wasm', ...entrypoints, '--capabilities', capabilities, '-o', out, '.'], {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const { stdout: o, stderr: e } = err as { stdout?: string; stderr?: string };
      return {
        tests: passing.length,
        problems: [`the tests cannot be compiled to WebAssembly:\n${`${e ?? ''}${o ?? ''}`.trim()}`],
      };
    }
    const bundle = parseBundle(await unpackFile(out), out, entrypointOf(passing[0]!));
    const policy = await loadPolicy(new Uint8Array(bundle.wasm));
    policy.setData(bundle.data);
    const ids = policy.entrypoints as Record<string, number>;
    const problems: string[] = [];
    for (const t of passing) {
      let outcome: string;
      try {
        const result = policy.evaluate({}, ids[entrypointOf(t)]) as { result: unknown }[];
        if (result.length === 1 && result[0]!.result === true) continue;
        outcome = `evaluates to ${JSON.stringify(result)}`;
      } catch (err) {
        outcome = `fails: ${(err as Error).message}`;
      }
      problems.push(`${where(t)}: passes on OPA's interpreter but on the gateway's WASM engine ${outcome}`);
    }
    return { tests: passing.length, problems };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
