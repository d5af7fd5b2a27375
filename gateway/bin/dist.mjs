// The gateway compiled to JavaScript in dist/ (tsconfig.build.json), which starts faster and
// takes ~30 MB less memory than compiling the TypeScript through tsx at load. `node
// gateway/bin/dist.mjs` (npm run build, run by scripts/setup.sh) compiles it and records a digest
// of the sources it compiled; sluice.mjs runs dist/ only while that digest matches the sources
// as they are now, so an edited source runs through tsx and a stale dist/ never runs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist');
const DIGEST_FILE = join(DIST, 'source-digest');

/** sha256 of every gateway/**\/*.ts (path and content) and of the compiler configuration. */
function sourceDigest() {
  const hash = createHash('sha256');
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) hash.update(readFileSync(join(ROOT, file))).update('\0');
  const files = readdirSync(join(ROOT, 'gateway'), { recursive: true }).filter((f) => f.endsWith('.ts'));
  for (const file of files.sort())
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(ROOT, 'gateway', file)))
      .update('\0');
  return hash.digest('hex');
}

function recordedDigest() {
  try {
    return readFileSync(DIGEST_FILE, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The URL of dist/cli/cli.js when dist/ was compiled from exactly the current sources, else undefined. SLUICE_DIST=0
 * turns it off.
 */
export function compiledCli() {
  if (process.env.SLUICE_DIST === '0') return undefined;
  const recorded = recordedDigest();
  try {
    return recorded !== undefined && recorded === sourceDigest()
      ? pathToFileURL(join(DIST, 'cli', 'cli.js')).href
      : undefined;
  } catch {
    return undefined; // e.g. tsconfig.build.json gone: run the sources
  }
}

/** Compiles gateway/ into a fresh dist/ unless it is already current; returns tsc's exit code. */
function build() {
  // Digest first: a source edited while tsc runs then leaves dist/ marked stale, never wrongly current.
  const digest = sourceDigest();
  if (recordedDigest() === digest) return 0;
  rmSync(DIST, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const { status } = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (status !== 0) return status ?? 1;
  writeFileSync(DIGEST_FILE, `${digest}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = build();
