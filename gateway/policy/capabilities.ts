/**
 * OPA capabilities restricted to what @open-policy-agent/opa-wasm can run, so a policy that calls
 * anything else fails `opa build`, not a request at 3 a.m. (DESIGN.md, "The policy contract").
 *
 * A builtin is supported when either
 * - OPA's WASM runtime implements it natively (`"wasm": true` in OPA's builtin_metadata.json for
 *   the very OPA version that compiles the bundle: the compiler links that runtime in), or
 * - opa-wasm's JavaScript host implements it (src/builtins/, e.g. sprintf, regex.split, yaml.*).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where scripts/install-opa.sh copies the metadata of the OPA version it installs. */
export const DEFAULT_BUILTIN_METADATA = join(REPO_ROOT, '.tools/share/opa/builtin_metadata.json');

/** The part of `opa capabilities` output this module reads; everything else is kept as is. */
const capabilitiesSchema = z.looseObject({ builtins: z.array(z.looseObject({ name: z.string() })) });

/** An OPA capabilities document (`opa capabilities --current`). */
export type Capabilities = z.infer<typeof capabilitiesSchema>;

const metadataEntrySchema = z.looseObject({ wasm: z.boolean().optional(), available: z.array(z.string()).optional() });

/** The builtin names opa-wasm's JS host implements, read from the installed package itself. */
export function jsBuiltinNames(): string[] {
  const require = createRequire(import.meta.url);
  // The package's export map hides src/builtins, so resolve it beside the package entry point.
  const file = join(dirname(require.resolve('@open-policy-agent/opa-wasm')), 'builtins', 'index.js');
  try {
    return Object.keys(require(file) as Record<string, unknown>).sort();
  } catch (err) {
    throw new Error(
      `cannot read opa-wasm's JS builtins at ${file} (package layout changed?): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * The builtins OPA's WASM runtime implements natively in `opaVersion` (e.g. "1.22.2"), from
 * builtin_metadata.json. Refuses metadata that does not describe that version: a mismatch would
 * silently allow builtins the compiled runtime lacks.
 */
export function wasmNativeBuiltinNames(metadata: unknown, opaVersion: string): string[] {
  const entries = z.record(z.string(), z.unknown()).parse(metadata);
  const version = `v${opaVersion.replace(/^v/, '')}`;
  let describesVersion = false;
  const names: string[] = [];
  for (const [name, raw] of Object.entries(entries)) {
    if (name.startsWith('_')) continue; // _categories, _implementations
    const entry = metadataEntrySchema.safeParse(raw);
    if (!entry.success || !entry.data.available?.includes(version)) continue;
    describesVersion = true;
    if (entry.data.wasm === true) names.push(name);
  }
  if (!describesVersion)
    throw new Error(`builtin metadata does not describe OPA ${version}; run scripts/install-opa.sh`);
  return names.sort();
}

/** `capabilities` with only the builtins in `supported`; features and ABI versions untouched. */
export function restrictCapabilities(
  capabilities: Capabilities,
  supported: ReadonlySet<string>,
): { capabilities: Capabilities; dropped: string[] } {
  const kept = capabilities.builtins.filter((b) => supported.has(b.name));
  const dropped = capabilities.builtins.filter((b) => !supported.has(b.name)).map((b) => b.name);
  return { capabilities: { ...capabilities, builtins: kept }, dropped };
}

/** The version `opa version` reports, e.g. "1.22.2". */
export async function opaVersion(opaBin: string): Promise<string> {
  const { stdout } = await run(opaBin, ['version']);
  const match = /^Version:\s*(\S+)/m.exec(stdout);
  if (!match?.[1]) throw new Error(`cannot read the version from "${opaBin} version": ${stdout.trim()}`);
  return match[1];
}

/** What writeWasmCapabilities produced. */
export interface WasmCapabilities {
  readonly file: string;
  readonly opaVersion: string;
  readonly builtins: readonly string[];
  readonly dropped: readonly string[];
}

/**
 * Writes the capabilities of `opaBin` restricted to opa-wasm's builtins to `outFile`. The
 * metadata comes from `metadataFile`, else SLUICE_OPA_BUILTIN_METADATA, else .tools/share/opa.
 */
export async function writeWasmCapabilities(args: {
  opaBin: string;
  outFile: string;
  metadataFile?: string;
}): Promise<WasmCapabilities> {
  const metadataFile = args.metadataFile ?? (process.env.SLUICE_OPA_BUILTIN_METADATA || DEFAULT_BUILTIN_METADATA);
  let metadata: unknown;
  try {
    metadata = JSON.parse(await readFile(metadataFile, 'utf8'));
  } catch (err) {
    throw new Error(
      `cannot read OPA builtin metadata ${metadataFile} (run scripts/install-opa.sh): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const version = await opaVersion(args.opaBin);
  const supported = new Set([...wasmNativeBuiltinNames(metadata, version), ...jsBuiltinNames()]);
  const { stdout } = await run(args.opaBin, ['capabilities', '--current'], { maxBuffer: 64 * 1024 * 1024 });
  const { capabilities, dropped } = restrictCapabilities(capabilitiesSchema.parse(JSON.parse(stdout)), supported);
  await mkdir(dirname(args.outFile), { recursive: true });
  await writeFile(args.outFile, `${JSON.stringify(capabilities, null, 2)}\n`);
  return { file: args.outFile, opaVersion: version, builtins: capabilities.builtins.map((b) => b.name), dropped };
}
