/**
 * The user docs (README.md and docs/*.md) are written for operators: no commit hashes, issue
 * numbers or pointers to the development notes (users do not have them), every relative link
 * resolves, and the README stays a front page that links to each docs page.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = join(ROOT, 'docs');

/** README.md and every markdown page in docs/, as paths relative to the repository root. */
function userDocs(): string[] {
  const pages = readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f));
  return ['README.md', ...pages.sort()];
}

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** Fenced code blocks, which hold commands and examples rather than links. */
const FENCE = /^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm;

/** Names that happen to be lower-case hex and are no commit. */
const HEX_WORDS = new Set(['ed25519']);

/**
 * Tokens that look like a git commit: 7–40 lower-case hex digits standing alone (git prints them
 * lower case), with at least one digit and one letter, so neither numbers like 10485760 nor words
 * like "defaced" count. UUIDs are removed first; a sha256 (64 digits) is longer than any commit
 * id and never matches.
 */
function commitLikeTokens(text: string): string[] {
  const withoutUuids = text.replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, ' ');
  return [...withoutUuids.matchAll(/\b[0-9a-f]{7,40}\b/g)]
    .map((m) => m[0])
    .filter((t) => /[0-9]/.test(t) && /[a-f]/.test(t) && !HEX_WORDS.has(t));
}

/** Issue and pull-request references: "issue 14", "issue #14", "issues 3", "#14", "PR 7". */
function issueReferences(text: string): string[] {
  const patterns = [/\bissues? #?\d+/gi, /\b(?:PR|pull request) #?\d+/gi, /(?<![\w&/#])#\d+\b/g];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[0]));
}

/** Where the development notes are named: users have neither ../shared/ nor DESIGN.md. */
function notesReferences(text: string): string[] {
  return [...text.matchAll(/\.\.\/shared|DESIGN\.md/g)].map((m) => m[0]);
}

/** The targets of inline `[text](target)` and reference `[label]: target` links outside code blocks. */
function linkTargets(markdown: string): string[] {
  const text = markdown.replace(FENCE, '');
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const reference = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!);
  return [...inline, ...reference];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of markdown.replace(FENCE, '').matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = heading!
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Problems with one relative link from `from` (a path relative to the root); none for external ones. */
function linkProblem(from: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: …
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = path === '' ? join(ROOT, from) : resolve(dirname(join(ROOT, from)), decodeURI(path));
  const shown = `${from} → ${target}`;
  if (relative(ROOT, file).startsWith('..')) return `${shown}: leaves the repository`;
  if (!existsSync(file)) return `${shown}: no such file`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!statSync(file).isFile() || !file.endsWith('.md')) return `${shown}: anchor on a file that is not markdown`;
  return headingAnchors(readFileSync(file, 'utf8')).has(anchor) ? undefined : `${shown}: no heading #${anchor}`;
}

describe('the checks themselves', () => {
  it('commit-like tokens: short and full hashes, not UUIDs, sha256 digests, numbers or words', () => {
    expect(commitLikeTokens('measured against 915bb5c and a5a5dcf0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6')).toEqual([
      '915bb5c',
      'a5a5dcf0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6',
    ]);
    const sha256 = '8953f8016cd642f532b96360e24a532ddb30243d1eda2463e620d37a874ccf49';
    const uuid = '56ba6fae-f9f2-44ff-835b-c96f48d04930';
    expect(commitLikeTokens(`${sha256} ${uuid} 10485760 defaced Ed25519 ed25519 ses_oE7YIYjEhRNtox9z`)).toEqual([]);
  });

  it('issue references, not HTML entities or anchors', () => {
    expect(issueReferences('see the closing notes of issue 7; Issue #12, fixed in #14, PR 3')).toEqual([
      'issue 7',
      'Issue #12',
      'PR 3',
      '#12',
      '#14',
    ]);
    expect(issueReferences('&#123; [x](#errors) [EMAIL_1] issues the token')).toEqual([]);
  });

  it('links: inline and reference, not inside code blocks; anchors as GitHub makes them', () => {
    const md = '[a](docs/x.md) [b](<y.md>) [c](https://e.org)\n```\n[d](nope.md)\n```\n[e]: ../f.md\n';
    expect(linkTargets(md)).toEqual(['docs/x.md', 'y.md', 'https://e.org', '../f.md']);
    expect([
      ...headingAnchors('## Audit trail and Kafka\n## `sluice audit` commands\n## Audit trail and Kafka\n'),
    ]).toEqual(['audit-trail-and-kafka', 'sluice-audit-commands', 'audit-trail-and-kafka-1']);
  });
});

describe('user docs hygiene', () => {
  for (const file of userDocs()) {
    describe(file, () => {
      const text = read(file);

      it('names no commit', () => {
        expect(commitLikeTokens(text)).toEqual([]);
      });

      it('names no issue or pull request', () => {
        expect(issueReferences(text)).toEqual([]);
      });

      it('does not point at the development notes (../shared/, DESIGN.md)', () => {
        expect(notesReferences(text)).toEqual([]);
      });

      it('every relative link resolves to a file in the repository (and a heading, for an anchor)', () => {
        const problems = linkTargets(text)
          .map((target) => linkProblem(file, target))
          .filter(Boolean);
        expect(problems).toEqual([]);
      });
    });
  }
});

describe('README is a front page', () => {
  const readme = read('README.md');

  it('is at most 10 KB', () => {
    expect(Buffer.byteLength(readme, 'utf8')).toBeLessThanOrEqual(10 * 1024);
  });

  it("names `npm start` and `npm test` (CI runs the README's test command)", () => {
    expect(readme).toMatch(/^npm start\b/m);
    expect(readme).toMatch(/^npm test\b/m);
  });

  it('links to every page in docs/', () => {
    const linked = new Set(linkTargets(readme).map((t) => t.split('#')[0]));
    const missing = userDocs().filter((f) => f !== 'README.md' && !linked.has(f));
    expect(missing).toEqual([]);
  });
});
