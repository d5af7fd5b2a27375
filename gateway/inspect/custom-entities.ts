/**
 * Custom entity types from policy data (`data.sluice.masking.custom_entities`), so a deployment
 * adds its own identifiers (employee ids, internal hostnames) by shipping a new bundle, without a
 * code change. Patterns are checked when the bundle loads: only shapes that stay linear in V8's
 * backtracking engine are accepted, and a bad pattern fails the bundle, never a request.
 */
import { z } from 'zod';
import { BUILTIN_PATTERNS, type EntityPattern } from './entity-patterns.ts';
import { creditCardValid, ibanValid } from './entity-validators.ts';

const customSchema = z.array(
  z.object({
    type: z.string().regex(/^[A-Z][A-Z0-9_]{1,39}$/, 'upper-case letters, digits and _'),
    pattern: z.string().min(1).max(512),
    /** Longest text the pattern can match: the stream masker holds back at most this much. */
    max_length: z.number().int().min(1).max(1024),
    /** Whether a match can contain whitespace (then streams hold the last max_length characters). */
    spans_whitespace: z.boolean().default(false),
    validate: z.enum(['luhn', 'iban']).optional(),
  }),
);

/** Why a pattern could backtrack badly, or undefined when its shape is safe. */
export function unsafePatternReason(source: string): string | undefined {
  if (/\\[1-9]|\\k</.test(source)) return 'backreferences are not allowed';
  if (/\(\?<?[=!]/.test(source)) return 'lookaround is not allowed';
  if (/(?<!\\)\((?!\?:)/.test(source)) return 'use non-capturing groups (?:...)';
  if (/(?<!\\)[*+]|\{\d+,\}/.test(source)) return 'unbounded quantifiers (*, +, {n,}) are not allowed; use {m,n}';
  // A quantified group that itself contains a quantifier can match one text in many ways.
  const stack: boolean[] = [];
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
    else if (c === '(') {
      stack.push(false);
      if (source.startsWith('?:', i + 1)) i += 2; // the ? of (?: is not a quantifier
    } else if (c === ')') {
      const inner = stack.pop() ?? false;
      const next = source[i + 1];
      if (inner && (next === '{' || next === '?')) return 'a quantified group may not contain a quantifier';
      if (stack.length > 0 && (inner || next === '{' || next === '?')) stack[stack.length - 1] = true;
    } else if ((c === '{' || c === '?') && stack.length > 0) stack[stack.length - 1] = true;
  }
  return undefined;
}

/**
 * The detector's patterns for a bundle: the built-ins followed by the bundle's custom types.
 * Throws with every problem listed when the custom list is malformed or unsafe.
 */
export function patternsFromPolicyData(data: unknown): EntityPattern[] {
  const raw = (data as { sluice?: { masking?: { custom_entities?: unknown } } } | undefined)?.sluice?.masking
    ?.custom_entities;
  if (raw === undefined) return [...BUILTIN_PATTERNS];
  const parsed = customSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `masking.custom_entities: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const problems: string[] = [];
  const custom = parsed.data.map((c, i): EntityPattern => {
    const reason = unsafePatternReason(c.pattern);
    if (reason) problems.push(`${i} (${c.type}): ${reason}`);
    else {
      try {
        new RegExp(c.pattern);
      } catch (err) {
        problems.push(`${i} (${c.type}): ${(err as Error).message}`);
      }
    }
    return {
      type: c.type,
      // Word boundaries around it, written as one-character look-arounds so they stay cheap.
      source: `(?<![A-Za-z0-9_])(?:${c.pattern})(?![A-Za-z0-9_])`,
      validate: c.validate === 'luhn' ? creditCardValid : c.validate === 'iban' ? ibanValid : undefined,
      structured: false,
      tail: { kind: 'charset', chars: CUSTOM_TAIL_CHARS + (c.spans_whitespace ? ' \t\n\r' : ''), max: c.max_length },
    };
  });
  if (problems.length > 0) throw new Error(`masking.custom_entities: ${problems.join('; ')}`);
  return [...BUILTIN_PATTERNS, ...custom];
}

/** Printable ASCII except space: a custom match without whitespace is made of these. */
const CUSTOM_TAIL_CHARS = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
