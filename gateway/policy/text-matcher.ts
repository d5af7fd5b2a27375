/**
 * Finds a bundle's text rules (the `sluice/text_rules` entrypoint: keywords and regex patterns)
 * in a prompt, so the policy reads `input.request.text_matches` instead of scanning the text in
 * WASM, where every keyword is a separate pass and every regex.match recompiles its RE2 program
 * on each evaluation. Built once per bundle load; a pattern that could backtrack badly in V8
 * fails the bundle, never a request.
 */
import { z } from 'zod';
import { unsafePatternReason } from '../inspect/custom-entities.ts';
import { keywordFlags, keywordSource, keywordView, normalizedView } from '../inspect/normalized-view.ts';

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
  return { source, regexp, literal: regexp.ignoreCase ? literal?.toLowerCase() : literal, inLowered: regexp.ignoreCase };
}

export class TextMatcher {
  private readonly needsLowered: boolean;

  /**
   * All keywords in one expression, one capture group each, scanned once over the prompt (one
   * expression per keyword cost three times as much), and each keyword alone, anchored, for the
   * places where another keyword matched first (two keywords starting at one position).
   */
  private readonly keywordScan: RegExp | undefined;
  private readonly keywordAt: readonly (RegExp | undefined)[];
  /** The keyword index of each capture group of keywordScan. */
  private readonly keywordOfGroup: readonly number[];

  private constructor(
    private readonly keywords: readonly string[],
    private readonly patterns: readonly CompiledPattern[],
  ) {
    this.needsLowered = patterns.some((p) => p.literal !== undefined && p.inLowered);
    const sources = keywords.map(keywordSource);
    const present = sources.flatMap((source, k) => (source === undefined ? [] : [{ source, k }]));
    this.keywordOfGroup = present.map((p) => p.k);
    const all = present.map((p) => p.source);
    this.keywordScan = all.length === 0 ? undefined : new RegExp(all.map((x) => `(${x})`).join('|'), keywordFlags(all, 'g'));
    this.keywordAt = sources.map((source) => (source === undefined ? undefined : new RegExp(source, keywordFlags([source], 'y'))));
  }

  /** Builds the matcher from the `sluice/text_rules` result; throws listing every bad term. */
  static fromRules(rules: unknown): TextMatcher {
    const parsed = rulesSchema.safeParse(rules ?? {});
    if (!parsed.success) {
      throw new Error(`sluice/text_rules: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
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
    return new TextMatcher(
      parsed.data.keywords.map((k) => k.toLowerCase()),
      patterns,
    );
  }

  /** The keywords found in keywordView's text, in the order the rules list them. */
  private keywordsIn(folded: string): string[] {
    const scan = this.keywordScan;
    if (!scan) return [];
    const found = new Set<number>();
    const starts: number[] = [];
    scan.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = scan.exec(folded)) !== null) {
      let g = 1;
      while (m[g] === undefined) g++;
      found.add(this.keywordOfGroup[g - 1]!);
      starts.push(m.index);
      scan.lastIndex = m.index + 1; // overlapping keywords: the next may start inside this one
    }
    // A keyword that starts where another matched first was not reported by the alternation.
    this.keywordAt.forEach((re, k) => {
      if (!re || found.has(k)) return;
      for (const at of starts) {
        re.lastIndex = at;
        if (re.test(folded)) return void found.add(k);
      }
    });
    return this.keywords.filter((_, k) => found.has(k));
  }

  /**
   * The keywords and patterns found in `text`. Keywords are matched in keywordView (case, look-alike
   * letters, full-width forms, zero-width characters and all spacing folded away, so a keyword
   * split across two content blocks still matches); patterns in the text as written and in its
   * normalised view, so an evasion that hides from one is seen in the other.
   */
  match(text: string): TextMatches {
    const folded = this.keywordScan ? keywordView(text) : '';
    const view = this.patterns.length > 0 ? normalizedView(text)?.text : undefined;
    const texts = view === undefined ? [text] : [text, view];
    const lowered = this.needsLowered ? texts.map((t) => t.toLowerCase()) : [];
    const mayMatch = (p: CompiledPattern, i: number): boolean => p.literal === undefined || (p.inLowered ? lowered[i]! : texts[i]!).includes(p.literal);
    return {
      keywords: this.keywordsIn(folded),
      patterns: this.patterns.filter((p) => texts.some((t, i) => mayMatch(p, i) && p.regexp.test(t))).map((p) => p.source),
    };
  }
}
