/**
 * `sluice bundle build [--policies DIR] [--out FILE] [--revision REV]`: compiles policies/ to
 * the WASM bundle the gateway loads, with capabilities restricted to what opa-wasm runs.
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundle } from './policy/bundle-build.ts';

const USAGE = 'usage: sluice bundle build [--policies DIR] [--out FILE] [--revision REV]\n';

/** Runs `sluice bundle <args>`; returns the exit code (2 on a usage error). Build errors throw. */
export async function bundleCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'build') {
    process.stderr.write(sub === undefined ? USAGE : `sluice bundle: unknown subcommand "${sub}"\n${USAGE}`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      policies: { type: 'string', default: 'policies' },
      out: { type: 'string', default: 'bundles/build/sluice.tar.gz' },
      revision: { type: 'string' },
    },
  });
  const built = await buildBundle({ policiesDir: values.policies, outFile: values.out, ...(values.revision ? { revision: values.revision } : {}) });
  const shown = relative(process.cwd(), built.file) || built.file;
  process.stdout.write(`bundle built: ${shown.startsWith('..') ? built.file : shown} (revision ${built.revision}, ${Math.round(built.durationMs)} ms)\n`);
  return 0;
}
