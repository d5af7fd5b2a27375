/**
 * Which parts of the input a policy reads, from OPA's own dependency analysis (`opa deps`). The
 * bundle builder records whether the policy reads input.request.text, the whole prompt, in the
 * bundle's manifest; when it does not, the gateway leaves the prompt out of the WASM input
 * (copying and parsing it there was a third of an evaluation's cost). `opa deps` is
 * conservative: a dynamic ref (input.request[k]) or the input handed whole to a function is
 * reported by its static prefix (input.request, input), and a prefix counts as reading the text.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BundleManifest } from './bundle-reader.ts';

const run = promisify(execFile);

/** The manifest field (under metadata.sluice) where the builder records the answer. */
export const READS_TEXT_FIELD = 'policy_reads_text';

const TEXT_PATH = ['request', 'text'];

/** One term of a ref as `opa deps --format json` prints it. */
interface RefTerm {
  readonly type: string;
  readonly value: unknown;
}

/** Whether any of `baseRefs` (opa deps' base documents) is input.request.text, inside it, or a prefix of it. */
export function readsPromptText(baseRefs: readonly (readonly RefTerm[])[]): boolean {
  return baseRefs.some((ref) => {
    if (ref[0]?.type !== 'var' || ref[0].value !== 'input') return false;
    // The static part of the path: a variable or computed key stops it, so what follows may be anything.
    const path: unknown[] = [];
    for (const term of ref.slice(1)) {
      if (term.type !== 'string') break;
      path.push(term.value);
    }
    const shared = Math.min(path.length, TEXT_PATH.length);
    return path.slice(0, shared).every((key, i) => key === TEXT_PATH[i]);
  });
}

/** Runs `opa deps` on `query` over the policies in `cwd` (skipping `ignore` patterns) and answers readsPromptText. */
export async function policyReadsPromptText(args: {
  opaBin: string;
  cwd: string;
  query: string;
  ignore: readonly string[];
}): Promise<boolean> {
  const ignores = args.ignore.flatMap((pattern) => ['--ignore', pattern]);
  const { stdout } = await run(args.opaBin, ['deps', '--format', 'json', '-d', '.', ...ignores, args.query], {
    cwd: args.cwd,
    maxBuffer: 16 * 1024 * 1024,
  });
  const deps = JSON.parse(stdout) as { base?: RefTerm[][] };
  return readsPromptText(deps.base ?? []);
}

/**
 * What a loaded bundle's manifest says: false only when the builder found that the policy never
 * reads the prompt text. Absent (a bundle built by plain `opa build`) means it may: the gateway
 * then passes the text, as it always did.
 */
export function manifestSaysReadsText(manifest: BundleManifest): boolean {
  const sluice = manifest.metadata?.sluice as Record<string, unknown> | undefined;
  return sluice?.[READS_TEXT_FIELD] !== false;
}
