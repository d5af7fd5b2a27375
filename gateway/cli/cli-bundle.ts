/**
 * `sluice bundle build|verify|serve`: compiles policies/ to the WASM bundle the gateway loads
 * (optionally signed), checks a bundle's signature file by file, and hosts bundles over HTTP.
 */
import { rm } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundle, defaultOpaBin, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../policy/bundle-build.ts';
import { unpackFile } from '../policy/bundle-reader.ts';
import { serveBundles } from './bundle-server.ts';
import { loadVerificationKey, verifyBundleSignature } from '../policy/bundle-verify.ts';
import { PolicyEngine } from '../policy/wasm-engine.ts';
import { runTestsOnWasm } from './wasm-tests.ts';

// A `\` at a line's end continues the same usage line (a template literal's line continuation adds nothing).
const USAGE = `usage: sluice bundle build [--policies DIR] [--out FILE] [--revision REV] \
[--sign KEY.pem [--signing-alg ALG]]
       sluice bundle verify BUNDLE --key PUBLIC.pem
       sluice bundle serve DIR [--port N] [--host H]
`;

function shown(file: string): string {
  const rel = relative(process.cwd(), file) || file;
  return rel.startsWith('..') ? file : rel;
}

async function build(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      policies: { type: 'string', default: 'policies' },
      out: { type: 'string', default: 'bundles/build/sluice.tar.gz' },
      revision: { type: 'string' },
      sign: { type: 'string' },
      'signing-alg': { type: 'string' },
    },
  });
  const alg = values['signing-alg'];
  if (alg !== undefined && !(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    process.stderr.write(`sluice bundle build: --signing-alg must be one of ${SIGNING_ALGORITHMS.join(', ')}\n`);
    return 2;
  }
  if (alg !== undefined && !values.sign) {
    process.stderr.write('sluice bundle build: --signing-alg needs --sign KEY.pem\n');
    return 2;
  }
  const built = await buildBundle({
    policiesDir: values.policies,
    outFile: values.out,
    ...(values.revision ? { revision: values.revision } : {}),
    ...(values.sign ? { signingKey: values.sign, signingAlg: (alg ?? 'RS256') as SigningAlgorithm } : {}),
  });
  // The Rego tests once more, on opa-wasm: a rule the interpreter runs and the gateway cannot
  // (a builtin opa-wasm implements differently) fails the build instead of every matching call.
  const wasmTests = await runTestsOnWasm({ policiesDir: values.policies, opaBin: defaultOpaBin() });
  if (wasmTests.problems.length > 0) {
    await rm(built.file, { force: true });
    process.stderr.write(
      `sluice bundle build: the policy tests disagree on the gateway's engine:\n  ${wasmTests.problems.join('\n  ')}\n`,
    );
    return 1;
  }
  // Loaded once by the engine the gateway runs, so what a gateway would refuse at load (an unsafe
  // custom-entity or keyword pattern, bad text rules) fails the build, not a deploy.
  try {
    await PolicyEngine.fromBundle(built.file);
  } catch (err) {
    await rm(built.file, { force: true });
    process.stderr.write(`sluice bundle build: the gateway would refuse this bundle: ${(err as Error).message}\n`);
    return 1;
  }
  const signed = built.signedWith ? `, signed ${built.signedWith}` : '';
  // Whether the gateway must copy each prompt into WASM: a rule reading input.request.text (or the input whole)
  // makes it.
  const text = built.policyReadsText ? ', policy reads the prompt text' : '';
  const tested = wasmTests.tests > 0 ? `, ${wasmTests.tests} tests pass on WASM too` : '';
  process.stdout.write(
    `bundle built: ${shown(built.file)} ` +
      `(revision ${built.revision}${signed}${text}${tested}, ${Math.round(built.durationMs)} ms)\n`,
  );
  return 0;
}

async function verify(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { key: { type: 'string' } } });
  if (positionals.length !== 1 || !values.key) {
    process.stderr.write(`sluice bundle verify: needs one BUNDLE and --key PUBLIC.pem\n${USAGE}`);
    return 2;
  }
  const file = positionals[0]!;
  const key = await loadVerificationKey(values.key);
  try {
    const result = await verifyBundleSignature(await unpackFile(file), key);
    process.stdout.write(
      `bundle ${shown(file)}: signature OK (${result.algorithm}${result.keyId ? `, keyid ${result.keyId}` : ''})\n`,
    );
    for (const name of result.files) process.stdout.write(`  ok  ${name}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`bundle ${shown(file)}: verification FAILED: ${(err as Error).message}\n`);
    return 1;
  }
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: 'string', default: '8181' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const port = Number(values.port);
  if (positionals.length !== 1 || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sluice bundle serve: needs one DIR and a valid --port\n${USAGE}`);
    return 2;
  }
  const server = await serveBundles({ dir: positionals[0]!, port, host: values.host });
  process.stdout.write(
    `serving bundles from ${positionals[0]} at ${server.url}/<file> (ETag, 304, long polling); Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** Runs `sluice bundle <args>`; returns the exit code (2 on a usage error). Build errors throw. */
export async function bundleCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'build':
      return build(rest);
    case 'verify':
      return verify(rest);
    case 'serve':
      return serve(rest);
    default:
      process.stderr.write(sub === undefined ? USAGE : `sluice bundle: unknown subcommand "${sub}"\n${USAGE}`);
      return 2;
  }
}
