/**
 * Reads a built bundle (.tar.gz from `opa build -t wasm`): the WASM module of the entrypoint,
 * the data documents merged into one tree, and the manifest. Anything unexpected is refused
 * with the file name and what was wrong; the gateway then keeps no engine and fails closed.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { z } from 'zod';

/** Bounds what a bundle may expand to: a bundle is a few hundred KiB, never gigabytes. */
const MAX_UNPACKED_BYTES = 256 * 1024 * 1024;

const manifestSchema = z.looseObject({
  revision: z.string().default(''),
  roots: z.array(z.string()).optional(),
  wasm: z.array(z.object({ entrypoint: z.string(), module: z.string() })).default([]),
  rego_version: z.number().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** The bundle's .manifest (OPA bundle format). */
export type BundleManifest = z.infer<typeof manifestSchema>;

/** What a bundle holds, ready for opa-wasm. */
export interface PolicyBundle {
  readonly wasm: Buffer;
  /** Every data.json of the bundle merged at its directory path (sluice/data.json → {sluice: …}). */
  readonly data: Record<string, unknown>;
  readonly manifest: BundleManifest;
}

function normalize(name: string): string {
  return posix.normalize(`/${name}`);
}

/**
 * Unpacks a bundle tarball into memory (path with a leading "/" → content); tar's strict mode
 * turns every corruption into an error. Signature verification and parsing both work on this map.
 */
export async function unpackBundle(bytes: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > MAX_UNPACKED_BYTES) parser.abort(new Error(`unpacks to more than ${MAX_UNPACKED_BYTES} bytes`));
          chunks.push(chunk);
        });
        entry.on('end', () => entry.type === 'File' && files.set(normalize(entry.path), Buffer.concat(chunks)));
      },
    });
    parser.on('error', reject);
    parser.on('abort', reject);
    parser.on('close', () => resolve());
    parser.end(bytes);
  });
  return files;
}

function refuse(file: string, what: string): never {
  throw new Error(`policy bundle ${file} ${what}`);
}

function setAt(root: Record<string, unknown>, path: readonly string[], value: unknown, source: string): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = (node[key] ??= {});
    if (typeof next !== 'object' || next === null || Array.isArray(next))
      throw new Error(`${source} conflicts with other data at ${path.join('.')}`);
    node = next as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last === undefined) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error(`${source} must hold a JSON object`);
    for (const [k, v] of Object.entries(value)) setAt(root, [k], v, source);
  } else if (node[last] !== undefined) {
    throw new Error(`${source} conflicts with other data at ${path.join('.')}`);
  } else {
    node[last] = value;
  }
}

/**
 * Reads `file` and returns the WASM module of `entrypoint` (from the manifest, else
 * /policy.wasm), the merged data and the manifest.
 */
export async function readBundle(file: string, entrypoint = 'sluice/decision'): Promise<PolicyBundle> {
  return parseBundle(await unpackFile(file), file, entrypoint);
}

/** Reads and unpacks `file`; the error names the file (label) when it is not a readable tarball. */
export async function unpackFile(file: string, label = file): Promise<Map<string, Buffer>> {
  try {
    return await unpackBundle(await readFile(file));
  } catch (err) {
    throw new Error(`policy bundle ${label} is not a readable .tar.gz: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Finds the WASM module of `entrypoint` and merges the data documents of unpacked bundle
 * `files`; `file` names the bundle (a path or URL) in errors.
 */
export function parseBundle(
  files: ReadonlyMap<string, Buffer>,
  file: string,
  entrypoint = 'sluice/decision',
): PolicyBundle {
  const fail = (what: string): never => refuse(file, what);

  const parseJson = (name: string, content: Buffer): unknown => {
    try {
      return JSON.parse(content.toString('utf8'));
    } catch (err) {
      return fail(`has invalid JSON in ${name}: ${(err as Error).message}`);
    }
  };

  const rawManifest = files.get('/.manifest');
  const parsed = manifestSchema.safeParse(rawManifest ? parseJson('/.manifest', rawManifest) : {});
  if (!parsed.success)
    refuse(
      file,
      `has an invalid .manifest: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const manifest = parsed.data;
  const modulePath = normalize(manifest.wasm.find((w) => w.entrypoint === entrypoint)?.module ?? '/policy.wasm');
  const wasm =
    files.get(modulePath) ??
    fail(
      `has no WASM module at ${modulePath}: build it with \`sluice bundle build\` (opa build -t wasm -e ${entrypoint})`,
    );

  const data: Record<string, unknown> = {};
  for (const [name, content] of files) {
    if (posix.basename(name) !== 'data.json') continue;
    const value = parseJson(name, content);
    const dir = posix.dirname(name).split('/').filter(Boolean);
    try {
      setAt(data, dir, value, name);
    } catch (err) {
      fail(`has conflicting data: ${(err as Error).message}`);
    }
  }
  return { wasm, data, manifest };
}
