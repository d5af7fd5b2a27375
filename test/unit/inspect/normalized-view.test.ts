/**
 * Unicode evasion: what a reader sees is what detection and keyword rules read. Zero-width and
 * other format characters, soft hyphens, full-width forms, no-break spaces, look-alike letters
 * and a keyword split across blocks all fail to hide an entity or a keyword; masking replaces the
 * original span, hidden characters included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntityDetector } from '../../../gateway/inspect/entity-detector.ts';
import { keywordView, normalizedView } from '../../../gateway/inspect/normalized-view.ts';
import { TextMatcher } from '../../../gateway/policy/text-matcher.ts';

const detector = new EntityDetector();
const found = (text: string) => detector.scan(text).map((m) => ({ type: m.type, value: text.slice(m.start, m.end) }));

describe('normalizedView', () => {
  it('is no view at all for ASCII text (the common case allocates nothing)', () => {
    expect(normalizedView('plain ascii, even  with  doubled spaces')).toBeUndefined();
  });

  it('drops format characters and non-ASCII spaces, folds full-width forms, and maps spans back', () => {
    const text = 'a\u200bb\u00a0c\uff20d\u00ade';
    const view = normalizedView(text)!;
    expect(view.text).toBe('abc@de');
    expect(view.toOriginal(0, 6)).toEqual({ start: 0, end: text.length });
    expect(text.slice(view.toOriginal(2, 5).start, view.toOriginal(2, 5).end)).toBe('c\uff20d');
  });
});

describe('entities hidden with Unicode are found, and their original span is what gets masked', () => {
  const email = 'jane.roe@example.org';
  const cases: Array<[string, string, string]> = [
    ['an e-mail with a zero-width space', 'EMAIL', 'jane.roe\u200b@example.org'],
    ['an e-mail with a soft hyphen', 'EMAIL', 'jane.\u00adroe@example.org'],
    ['an e-mail with a full-width at sign', 'EMAIL', 'jane.roe\uff20example.org'],
    ['an e-mail with no-break spaces around the at sign', 'EMAIL', 'jane.roe\u00a0@\u00a0example.org'],
    ['a card in full-width digits', 'CREDIT_CARD', '\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11'],
    ['a card with no-break spaces', 'CREDIT_CARD', '4111\u00a01111\u00a01111\u00a01111'],
    ['a card with dots', 'CREDIT_CARD', '4111.1111.1111.1111'],
  ];
  for (const [what, type, value] of cases) {
    it(what, () => {
      expect(found(`send it to ${value} today`)).toEqual([{ type, value }]);
    });
  }

  it('any mix of format characters and odd spaces inside an e-mail hides nothing (fast-check)', () => {
    const hidden = fc.constantFrom('\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u00a0', '\u202f', '\u2009');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: email.length }), hidden), { maxLength: 6 }), (inserts) => {
        let value = email;
        for (const [at, ch] of [...inserts].sort((a, b) => b[0] - a[0])) value = value.slice(0, at) + ch + value.slice(at);
        const text = `mail: ${value} (work)`;
        const matches = found(text);
        expect(matches).toHaveLength(1);
        // The masked span covers every visible character of the address.
        expect(matches[0]!.value.replace(/[\u200b-\u200d\u2060\ufeff\u00ad\u00a0\u202f\u2009]/g, '')).toBe(email);
      }),
      { numRuns: 300 },
    );
  });
});

describe('keywords hidden with Unicode or spacing still match', () => {
  const matcher = TextMatcher.fromRules({ keywords: ['project nightingale', 'password'] });
  const cases: Array<[string, string]> = [
    ['a no-break space', 'Project\u00a0Nightingale'],
    ['a zero-width space', 'pass\u200bword'],
    ['doubled spaces', 'project   nightingale'],
    ['a Cyrillic homoglyph', 'pr\u043eject nightingale'],
    ['a split across two blocks (joined by a newline)', 'the project night\ningale plan'],
    ['full-width letters', '\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44'],
  ];
  for (const [what, text] of cases) {
    it(what, () => {
      expect(matcher.match(text).keywords.length).toBe(1);
    });
  }

  it('a text without the keyword does not match, however it is folded', () => {
    expect(matcher.match('a passing word about projects').keywords).toEqual([]);
    expect(keywordView('Pr\u043e\u00a0JECT')).toBe('project');
  });
});
