/**
 * Finds a bundle's text rules (the `sluice/text_rules` entrypoint: keywords and regex patterns)
 * in a prompt, so the policy reads `input.request.text_matches` instead of scanning the text in
 * WASM, where every keyword is a separate pass and every regex.match recompiles its RE2 program
 * on each evaluation. Built once per bundle load; a pattern that could backtrack badly in V8
 * fails the bundle, never a request.
 */
import { z } from 'zod';
import { unsafePatternReason } from '../inspect/custom-entities.ts';
import { isPlainAscii, keywordSource, keywordText, normalizedView } from '../inspect/normalized-view.ts';

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

/**
 * The longest ASCII literal (3+ characters) that every match of a checked pattern body contains,
 * or undefined (a top-level `|`, or no such run). Conservative: literals inside groups, and a
 * character a quantifier makes optional, are not counted. V8 does not look for such a literal
 * first: it tries `\b[a-z0-9-]{1,63}\.corp…` at every word boundary of the prompt.
 */
export function requiredLiteral(body: string): string | undefined {
  let best = '';
  let run = '';
  const endRun = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\') {
      const escaped = body[++i] ?? '';
      // \b \d \w \x41 \n …: classes, anchors and code escapes end a run; \. \- \/ are themselves.
      if (/[A-Za-z0-9]/.test(escaped) || depth > 0) endRun();
      else run += escaped;
    } else if (c === '[') {
      endRun();
      if (body[i + 1] === '^') i++;
      if (body[i + 1] === ']') i++;
      while (i + 1 < body.length && body[++i] !== ']') if (body[i] === '\\') i++;
    } else if (c === '(' || c === ')') {
      depth += c === '(' ? 1 : -1;
      endRun();
    } else if (c === '|') {
      if (depth === 0) return undefined;
      endRun();
    } else if (c === '?' || c === '*' || c === '+' || c === '{') {
      run = run.slice(0, -1);
      endRun();
      if (c === '{') while (i + 1 < body.length && body[++i] !== '}');
    } else if (depth === 0 && c !== '.' && c !== '^' && c !== '$' && c.charCodeAt(0) < 128) {
      run += c;
    } else {
      endRun();
    }
  }
  endRun();
  return best.length >= 3 ? best : undefined;
}

/** A compiled pattern, with the literal a text must contain before the regex is worth running. */
interface CompiledPattern {
  readonly source: string;
  readonly regexp: RegExp;
  /** Lower-cased when `inLowered`: then it is looked for in the lower-cased text. */
  readonly literal: string | undefined;
  readonly inLowered: boolean;
}

function compilePattern(source: string): CompiledPattern {
  const regexp = regExpFromRe2(source);
  const body = source.replace(RE2_FLAG_GROUP, '');
  // Unicode case folding (e.g. ſ matches s) is not what toLowerCase gives: no literal then.
  const literal = regexp.ignoreCase && regexp.unicode ? undefined : requiredLiteral(body);
  return {
    source,
    regexp,
    literal: regexp.ignoreCase ? literal?.toLowerCase() : literal,
    inLowered: regexp.ignoreCase,
  };
}

export class TextMatcher {
  private readonly needsLowered: boolean;
  /** The keywords lower-cased, as the policy names them. */
  private readonly keywords: readonly string[];
  /** Each keyword's expression (keywordSource); undefined when nothing visible is left of it. */
  private readonly keywordRes: readonly (RegExp | undefined)[];
  /**
   * All keywords in one expression: most prompts hold none, and one pass over them costs about
   * what one keyword's pass does. Only a prompt it matches is tried keyword by keyword.
   */
  private readonly anyKeyword: RegExp | undefined;

  private constructor(
    keywords: readonly string[],
    private readonly patterns: readonly CompiledPattern[],
  ) {
    this.needsLowered = patterns.some((p) => p.literal !== undefined && p.inLowered);
    this.keywords = keywords.map((k) => k.toLowerCase());
    // Folded before lower-casing, as the text is: a Greek capital eta is an H, a small one an n.
    const sources = keywords.map(keywordSource);
    this.keywordRes = sources.map((source) => (source === undefined ? undefined : new RegExp(source)));
    const present = sources.filter((source) => source !== undefined);
    this.anyKeyword = present.length === 0 ? undefined : new RegExp(present.join('|'));
  }

  /** Builds the matcher from the `sluice/text_rules` result; throws listing every bad term. */
  static fromRules(rules: unknown): TextMatcher {
    const parsed = rulesSchema.safeParse(rules ?? {});
    if (!parsed.success) {
      throw new Error(
        `sluice/text_rules: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const problems: string[] = [];
    const patterns = parsed.data.patterns.flatMap((source) => {
      try {
        return [compilePattern(source)];
      } catch (err) {
        problems.push(`pattern ${JSON.stringify(source)}: ${(err as Error).message}`);
        return [];
      }
    });
    if (problems.length > 0) throw new Error(`sluice/text_rules: ${problems.join('; ')}`);
    return new TextMatcher(parsed.data.keywords, patterns);
  }

  /**
   * The keywords and patterns found in `text`. Keywords are found in keywordText (case, look-alike
   * letters, full-width forms, invisible characters and spacing folded away) with a line break
   * allowed between any two letters, so a keyword split across two content blocks still matches
   * (normalized-view.ts: keywordSource); patterns are matched in the text as written and in its
   * normalised view, so an evasion that hides from one is seen in the other.
   */
  match(text: string): TextMatches {
    // Printable ASCII differs from its view in spacing alone, which keywordSource and a pattern
    // spell out themselves: no view for it.
    const plain = isPlainAscii(text);
    const normalized = plain ? undefined : normalizedView(text);
    const folded = this.anyKeyword ? keywordText(text, { plain, view: normalized }) : '';
    const view = this.patterns.length > 0 ? normalized?.text : undefined;
    const texts = view === undefined ? [text] : [text, view];
    // Plain text's keyword text is the text lower-cased already: not lowered (a 4 KB copy) twice.
    const lowerText = (t: string, i: number): string =>
      i === 0 && plain && this.anyKeyword ? folded : t.toLowerCase();
    const lowered = this.needsLowered ? texts.map(lowerText) : [];
    const mayMatch = (p: CompiledPattern, i: number): boolean =>
      p.literal === undefined || (p.inLowered ? lowered[i]! : texts[i]!).includes(p.literal);
    return {
      keywords: this.anyKeyword?.test(folded) ? this.keywords.filter((_, k) => this.keywordRes[k]?.test(folded)) : [],
      patterns: this.patterns
        .filter((p) => texts.some((t, i) => mayMatch(p, i) && p.regexp.test(t)))
        .map((p) => p.source),
    };
  }
}
