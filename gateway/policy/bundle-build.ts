/**
 * Builds the policy bundle with the pinned OPA CLI: Rego → one WASM module for the entrypoint
 * sluice/decision (and sluice/text_rules when the policies declare it), plus the data.json
 * files, restricted to builtins opa-wasm can run. The manifest records whether the policy reads
 * the prompt text (input-reads.ts).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeWasmCapabilities } from './capabilities.ts';
import { policyReadsPromptText, READS_TEXT_FIELD } from './input-reads.ts';

const run = promisify(execFile);

/** The repository root, found from this file so the CLI works from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The one entrypoint of every Sluice bundle (DESIGN.md, "The policy contract"). */
export const ENTRYPOINT = 'sluice/decision';
/** Optional entrypoint: the prompt terms the gateway matches for the policy (text_rules.rego). */
export const TEXT_RULES_ENTRYPOINT = 'sluice/text_rules';
/** Rego for `opa test`/`opa eval` only: the text rules matched in Rego, which the gateway does itself. */
export const TEXT_RULES_FALLBACK_FILE = 'text_rules_fallback.rego';
/** What never goes into a bundle. */
const IGNORED = ['*_test.rego', TEXT_RULES_FALLBACK_FILE];

/** The OPA CLI to use: SLUICE_OPA_BIN, else the pinned one scripts/install-opa.sh installs. */
export function defaultOpaBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLUICE_OPA_BIN || join(REPO_ROOT, '.tools/bin/opa');
}

/** Options of buildBundle. */
export interface BuildBundleOptions {
  readonly policiesDir: string;
  readonly outFile: string;
  readonly opaBin?: string;
  /** Default: the git short sha when policiesDir has no uncommitted change, else dev-<timestamp>. */
  readonly revision?: string;
  /** A PEM private key: OPA signs the bundle (.signatures.json, one JWT listing every file's digest). */
  readonly signingKey?: string;
  /** JWS algorithm for signingKey; OPA's default is RS256. */
  readonly signingAlg?: SigningAlgorithm;
}

/** Signing algorithms `sluice bundle build --signing-alg` accepts (and the gateway verifies). */
export const SIGNING_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;

/** One of SIGNING_ALGORITHMS. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A built bundle. */
export interface BuiltBundle {
  readonly file: string;
  readonly revision: string;
  readonly capabilitiesFile: string;
  readonly durationMs: number;
  /** The signing algorithm when the bundle was signed. */
  readonly signedWith?: SigningAlgorithm;
  /** Whether the policy reads input.request.text (opa deps); recorded in the manifest's metadata.sluice. */
  readonly policyReadsText: boolean;
}

/**
 * The git short sha of HEAD when `dir` has no uncommitted change; otherwise (or outside git)
 * `dev-<UTC timestamp>`, so a revision never claims a commit the policy does not match.
 */
export async function defaultRevision(dir: string, now: Date = new Date()): Promise<string> {
  const dev = `dev-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
  try {
    const { stdout: sha } = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir });
    const { stdout: changes } = await run('git', ['status', '--porcelain', '--', '.'], { cwd: dir });
    return changes.trim() === '' ? sha.trim() : dev;
  } catch {
    return dev;
  }
}

/**
 * Whether a policy file (tests aside) in package sluice defines `text_rules`. OPA refuses an
 * entrypoint that names no rule, and bundles without text rules are valid: the policy then
 * matches its own text in Rego.
 */
async function declaresTextRules(policiesDir: string): Promise<boolean> {
  const files = (await readdir(policiesDir, { recursive: true })).filter(
    (f) => f.endsWith('.rego') && !f.endsWith('_test.rego') && !f.endsWith(TEXT_RULES_FALLBACK_FILE),
  );
  for (const file of files) {
    const source = await readFile(join(policiesDir, file), 'utf8');
    if (/^package sluice\s*$/m.test(source) && /^text_rules\s*(?::=|=|if\b|\{)/m.test(source)) return true;
  }
  return false;
}

/**
 * Runs `opa build -t wasm -e sluice/decision` on `policiesDir` into `outFile` (written
 * atomically: a gateway reading the old bundle never sees half a file). The capabilities file
 * goes beside the bundle. A failure carries OPA's own message.
 */
export async function buildBundle(options: BuildBundleOptions): Promise<BuiltBundle> {
  const started = performance.now();
  const policiesDir = resolve(options.policiesDir);
  const outFile = resolve(options.outFile);
  const opaBin = options.opaBin ?? defaultOpaBin();
  const isDir = await stat(policiesDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new Error(`policy directory ${policiesDir} does not exist`);
  await stat(opaBin).catch(() => {
    throw new Error(`OPA CLI not found at ${opaBin}: run scripts/install-opa.sh (or set SLUICE_OPA_BIN)`);
  });

  const capabilitiesFile = join(dirname(outFile), 'capabilities.json');
  await writeWasmCapabilities({ opaBin, outFile: capabilitiesFile });
  const revision = options.revision ?? (await defaultRevision(policiesDir));
  const tmpFile = `${outFile}.${process.pid}.tmp`;
  await mkdir(dirname(outFile), { recursive: true });
  // Bundle mode (-b): OPA signs only bundles; for policies/ it yields the same files as without.
  const entrypoints = (await declaresTextRules(policiesDir))
    ? ['-e', ENTRYPOINT, '-e', TEXT_RULES_ENTRYPOINT]
    : ['-e', ENTRYPOINT];
  const ignores = IGNORED.flatMap((pattern) => ['--ignore', pattern]);
  const args = [
    'build',
    '-b',
    '-t',
    'wasm',
    ...entrypoints,
    '--capabilities',
    capabilitiesFile,
    '--revision',
    revision,
    ...ignores,
    '-o',
    tmpFile,
  ];
  if (options.signingKey) {
    await stat(options.signingKey).catch(() => {
      throw new Error(`signing key ${options.signingKey} does not exist`);
    });
    args.push('--signing-key', resolve(options.signingKey), '--signing-alg', options.signingAlg ?? 'RS256');
  }
  args.push('.');
  // A copy of the policies gets the manifest with what `opa deps` found: the caller's directory is never written to.
  const stage = await mkdtemp(join(tmpdir(), 'sluice-bundle-'));
  let policyReadsText: boolean;
  try {
    policyReadsText = await policyReadsPromptText({
      opaBin,
      cwd: policiesDir,
      query: `data.${ENTRYPOINT.replace('/', '.')}`,
      ignore: IGNORED,
    });
    await cp(policiesDir, stage, { recursive: true });
    await writeManifestMetadata(stage, { [READS_TEXT_FIELD]: policyReadsText });
    // Run inside the copy so the bundle names files sluice/x.rego, not this machine's paths.
    await run(opaBin, args, { cwd: stage, maxBuffer: 16 * 1024 * 1024 });
    await rename(tmpFile, outFile);
  } catch (err) {
    await rm(tmpFile, { force: true });
    // OPA prints compile errors on stdout, other failures on stderr: show both.
    const { stdout, stderr } = err as { stdout?: unknown; stderr?: unknown };
    const output = [stderr, stdout]
      .map((s) => String(s ?? '').trim())
      .filter(Boolean)
      .join('\n');
    throw new Error(`opa build of ${policiesDir} failed:\n${output || (err as Error).message}`, { cause: err });
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return {
    file: outFile,
    revision,
    capabilitiesFile,
    durationMs: performance.now() - started,
    policyReadsText,
    ...(options.signingKey ? { signedWith: options.signingAlg ?? 'RS256' } : {}),
  };
}

/**
 * Sets metadata.sluice fields in `dir`/.manifest, which `opa build -b` makes the bundle's
 * manifest (and signs). A manifest the policies already have keeps its other fields; the
 * builder's own fields always win, so a hand-written value can never claim what `opa deps` did not find.
 */
async function writeManifestMetadata(dir: string, fields: Record<string, unknown>): Promise<void> {
  const file = join(dir, '.manifest');
  const existing = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as Record<string, unknown>,
    () => ({}) as Record<string, unknown>,
  );
  const metadata = (existing.metadata ?? {}) as Record<string, unknown>;
  const sluice = (metadata.sluice ?? {}) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...existing, metadata: { ...metadata, sluice: { ...sluice, ...fields } } }));
}
