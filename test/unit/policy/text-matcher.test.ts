import fc from 'fast-check';
import { normalizedView } from '../../../gateway/inspect/normalized-view.ts';
import { describe, expect, it } from 'vitest';
import { regExpFromRe2, requiredLiteral, TextMatcher } from '../../../gateway/policy/text-matcher.ts';

describe('TextMatcher', () => {
  const matcher = TextMatcher.fromRules({
    keywords: ['Project Nightingale', 'wire transfer'],
    patterns: ['(?i)\\b[a-z0-9-]{1,63}\\.corp\\.example\\.com\\b', 'EMP-[0-9]{6}'],
  });

  it('finds keywords case-insensitively and reports them lower-cased', () => {
    expect(matcher.match('About PROJECT nightingale and a Wire Transfer').keywords).toEqual([
      'project nightingale',
      'wire transfer',
    ]);
    expect(matcher.match('nightingales sing').keywords).toEqual([]);
  });

  it('reports each matching pattern by its RE2 source, honouring (?i)', () => {
    expect(matcher.match('ssh db-01.CORP.example.com now').patterns).toEqual([
      '(?i)\\b[a-z0-9-]{1,63}\\.corp\\.example\\.com\\b',
    ]);
    expect(matcher.match('emp-123456 is lower case').patterns).toEqual([]);
    expect(matcher.match('EMP-123456').patterns).toEqual(['EMP-[0-9]{6}']);
    expect(matcher.match('db-01.corp.example.org')).toEqual({ keywords: [], patterns: [] });
  });

  it('treats a text without keywords the same with or without any rules', () => {
    expect(TextMatcher.fromRules(undefined).match('project nightingale')).toEqual({ keywords: [], patterns: [] });
  });

  it('refuses patterns that could backtrack badly, naming each', () => {
    expect(() => TextMatcher.fromRules({ patterns: ['\\b[a-z]+\\.corp', '(?:a{1,5}){1,5}', 'ok{1,3}'] })).toThrow(
      new RegExp(
        /pattern "\\\\b\[a-z\]\+\\\\.corp": unbounded quantifiers.*/.source +
          /pattern "\(\?:a\{1,5\}\)\{1,5\}": a quantified group may not contain a quantifier/.source,
      ),
    );
  });

  it('refuses RE2 syntax JavaScript would read differently', () => {
    for (const re2Only of ['end\\z', '[[:alpha:]]{1,3}', '(?P<n>x)', '(?U)a{1,3}', '\\pL']) {
      expect(() => regExpFromRe2(re2Only), re2Only).toThrow();
    }
  });

  it('keeps \\w and \\b ASCII-only like RE2 unless the pattern needs Unicode mode', () => {
    // U+212A KELVIN SIGN folds to k in Unicode case-insensitive mode; RE2's \b and \w stay ASCII.
    expect(regExpFromRe2('(?i)\\bk\\b').test('\u212A')).toBe(false);
    expect(regExpFromRe2('\\p{Lu}{1,3}').test('É')).toBe(true);
  });

  it('refuses malformed rules', () => {
    expect(() => TextMatcher.fromRules({ keywords: [''] })).toThrow(/sluice\/text_rules: keywords.0/);
  });

  it('finds the literal every match must contain, counting nothing optional or alternative', () => {
    expect(requiredLiteral('\\b[a-z0-9-]{1,63}\\.corp\\.example\\.com\\b')).toBe('.corp.example.com');
    expect(requiredLiteral('colou?r')).toBe('colo');
    expect(requiredLiteral('(?:abc|def)ghij')).toBe('ghij');
    expect(requiredLiteral('[x|y]{1,2}abc')).toBe('abc');
    expect(requiredLiteral('abc|defgh')).toBeUndefined();
    expect(requiredLiteral('\\d{3}-\\d{4}')).toBeUndefined();
    expect(requiredLiteral('ab\\ncd')).toBeUndefined();
  });

  it(
    'answers exactly as the regex alone on the text or its normalised view ' +
      '(the literal only skips hopeless texts)',
    () => {
      const patterns = [
        '(?i)\\b[a-z0-9-]{1,63}\\.corp\\.example\\.com\\b',
        'EMP-[0-9]{6}',
        '(?i)colou?r(?:ed|s)?',
        '(?i)\\p{Lu}{1,3}kelvin',
        'ab\\.c{0,2}d',
      ];
      const matcher = TextMatcher.fromRules({ patterns });
      const pieces = [
        '.corp',
        '.CORP',
        '.example',
        '.Example',
        '.com',
        'db-1',
        'ſ',
        '\u212A',
        'EMP-',
        'emp-',
        '123456',
        'colo',
        'COLOU',
        'r',
        'ed',
        'ab.',
        'AB.',
        'cc',
        'd',
        ' ',
        '-',
        'Kelvin',
        'İ',
        'σ',
        'ς',
      ];
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 14 }), (parts) => {
          const text = parts.join('');
          const view = normalizedView(text)?.text;
          const expected = patterns.filter(
            (p) => regExpFromRe2(p).test(text) || (view !== undefined && regExpFromRe2(p).test(view)),
          );
          expect(matcher.match(text).patterns).toEqual(expected);
        }),
        { numRuns: 3000 },
      );
    },
  );
});
