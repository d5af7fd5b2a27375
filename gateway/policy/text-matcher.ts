/**
 * Finds a bundle's text rules (the `sluice/text_rules` entrypoint: keywords and regex patterns)
 * in a prompt, so the policy reads `input.request.text_matches` instead of scanning the text in
 * WASM, where every keyword is a separate pass and every regex.match recompiles its RE2 program
 * on each evaluation. Built once per bundle load; a pattern that could backtrack badly in V8
 * fails the bundle, never a request.
 */
import { z } from 'zod';
import { unsafePatternReason } from '../inspect/custom-entities.ts';

/** What the gateway found, as the policy receives it: lower-cased keywords and pattern sources. */
export interface TextMatches {
  readonly keywords: readonly string[];
  readonly patterns: readonly string[];
}

const rulesSchema = z.object({
  keywords: z.array(z.string().min(1)).default([]),
  patterns: z.array(z.string().min(1).max(512)).default([]),
});

/** RE2's leading flag group, e.g. `(?i)`; JavaScript takes these as RegExp flags instead. */
const RE2_FLAG_GROUP = /^\(\?([a-zA-Z]+)\)/;
const JS_EQUIVALENT_FLAGS = new Set(['i', 'm', 's']);

/** Syntax only Unicode mode reads right: property and code-point escapes, astral characters. */
const NEEDS_UNICODE_MODE = /\\[pPu]\{|[\u{10000}-\u{10FFFF}]/u;

/**
 * The JavaScript RegExp that matches what an RE2 pattern matches. Compiling in Unicode mode
 * first makes RE2-only syntax (`\z`, `[[:alpha:]]`, `(?P<n>…)`) a syntax error instead of a
 * silently different pattern; the shape check keeps matching linear-time like RE2. Throws with
 * the reason.
 */
export function regExpFromRe2(pattern: string): RegExp {
  const flagGroup = RE2_FLAG_GROUP.exec(pattern);
  const flags = flagGroup?.[1] ?? '';
  for (const flag of flags) {
    if (!JS_EQUIVALENT_FLAGS.has(flag)) throw new Error(`flag (?${flag}) is not supported; use i, m or s`);
  }
  const body = pattern.slice(flagGroup?.[0].length ?? 0);
  const unsafe = unsafePatternReason(body);
  if (unsafe) throw new Error(unsafe);
  const jsFlags = [...new Set(flags)].join('');
  const unicode = new RegExp(body, `u${jsFlags}`);
  // Unicode mode runs case-insensitive patterns about 2.5× slower (V8 folds case per code
  // point), and its \w and \b are no longer ASCII-only as in RE2: use it only where needed.
  return NEEDS_UNICODE_MODE.test(body) ? unicode : new RegExp(body, jsFlags);
}

export class TextMatcher {
  private constructor(
    private readonly keywords: readonly string[],
    private readonly patterns: readonly { readonly source: string; readonly regexp: RegExp }[],
  ) {}

  /** Builds the matcher from the `sluice/text_rules` result; throws listing every bad term. */
  static fromRules(rules: unknown): TextMatcher {
    const parsed = rulesSchema.safeParse(rules ?? {});
    if (!parsed.success) {
      throw new Error(`sluice/text_rules: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const problems: string[] = [];
    const patterns = parsed.data.patterns.flatMap((source) => {
      try {
        return [{ source, regexp: regExpFromRe2(source) }];
      } catch (err) {
        problems.push(`pattern ${JSON.stringify(source)}: ${(err as Error).message}`);
        return [];
      }
    });
    if (problems.length > 0) throw new Error(`sluice/text_rules: ${problems.join('; ')}`);
    return new TextMatcher(
      parsed.data.keywords.map((k) => k.toLowerCase()),
      patterns,
    );
  }

  /** The keywords (case-insensitive substrings) and patterns found in `text`. */
  match(text: string): TextMatches {
    const lowered = this.keywords.length > 0 ? text.toLowerCase() : '';
    return {
      keywords: this.keywords.filter((keyword) => lowered.includes(keyword)),
      patterns: this.patterns.filter((p) => p.regexp.test(text)).map((p) => p.source),
    };
  }
}
