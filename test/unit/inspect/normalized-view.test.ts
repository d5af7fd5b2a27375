/**
 * Unicode evasion: what a reader sees is what detection and keyword rules read. Zero-width and
 * other invisible characters, soft hyphens, full-width and mathematical forms, other scripts'
 * digits, no-break and doubled spaces, look-alike letters and a keyword split across blocks all
 * fail to hide an entity or a keyword; masking replaces the original span, hidden characters
 * included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntityDetector } from '../../../gateway/inspect/entity-detector.ts';
import { keywordText, normalizedView, type SpaceReading } from '../../../gateway/inspect/normalized-view.ts';
import { TextMatcher } from '../../../gateway/policy/text-matcher.ts';

const detector = new EntityDetector();
const found = (text: string) => detector.scan(text).map((m) => ({ type: m.type, value: text.slice(m.start, m.end) }));
/** The view's text, or the text itself when it has no view. */
const read = (text: string, spaces?: SpaceReading): string => normalizedView(text, spaces)?.text ?? text;
/** The original text behind the view's span [start, end). */
function behind(text: string, start: number, end: number, spaces?: SpaceReading): string {
  const span = normalizedView(text, spaces)!.toOriginal(start, end);
  return text.slice(span.start, span.end);
}

describe('normalizedView', () => {
  it('is no view at all for printable ASCII (no allocation), doubled spaces and line breaks included', () => {
    expect(normalizedView('plain ascii, even  with  doubled spaces\n\n  and indentation')).toBeUndefined();
  });

  it.each([
    ['zero-width space, joiners, word joiner', 'a\u200bb\u200cc\u200dd\u2060e', 'abcde'],
    ['soft hyphen, BOM, bidi controls', 'a\u00adb\ufeffc\u202ed\u2066e\u2069', 'abcde'],
    ['variation selector, combining grapheme joiner, NUL', 'a\ufe0fb\u034fc\u0000d', 'abcd'],
    ['full-width letters, digits and at sign', '\uff4a\uff41\uff4e\uff45\uff20\uff11\uff12', 'jane@12'],
    ['mathematical bold digits (two UTF-16 units each)', '\u{1d7d2}\u{1d7cf}', '41'],
    ['Arabic-Indic and Devanagari digits', '\u0664\u0661 \u0967\u0968', '41 12'],
    [
      'Cyrillic and Greek look-alikes, both cases',
      '\u0440\u0430\u0455\u0455 \u0397\u0395\u039b\u039b\u039f \u03b7',
      'pass HEΛΛO n',
    ],
    ['dashes and the minus sign', '4111\u20131111\u20101111\u22121111', '4111-1111-1111-1111'],
    ['each kind of space as one space, each line break as one', 'a\u00a0b\u2009c\u3000d\te\r\nf', 'a b c d e\n\nf'],
    ['a ligature as its letters', '\ufb01le', 'file'],
  ])('reads %s as a reader sees them', (_, text, view) => {
    expect(read(text)).toBe(view);
  });

  it('maps a view span back to the original span, hidden characters inside it included', () => {
    const text = 'to: ja\u200bne\u00ad.roe\uff20example.org\u200b!';
    const view = normalizedView(text)!;
    expect(view.text).toBe('to: jane.roe@example.org!');
    const at = view.text.indexOf('jane');
    // The zero-width space after the address is not part of it.
    expect(behind(text, at, at + 'jane.roe@example.org'.length)).toBe('ja\u200bne\u00ad.roe\uff20example.org');
    // A two-unit digit maps to both its units; a one-to-two ligature's letters both map to it.
    expect(behind('x \u{1d7d2}1', 2, 3)).toBe('\u{1d7d2}');
    expect(behind('\ufb01le', 1, 2)).toBe('\ufb01');
    expect(behind('\ufb01le', 2, 3)).toBe('l');
  });

  it("'joined' reads non-ASCII spaces as glue and collapses runs of spaces", () => {
    expect(read('jane\u00a0@\u2009example.org', 'joined')).toBe('jane@example.org');
    expect(read('4111  1111 \u200b 1111\t\t1111', 'joined')).toBe('4111 1111 1111 1111');
    expect(behind('a  b', 1, 2, 'joined')).toBe('  ');
  });

  // Strings of pieces that each read as something or nothing: every view character comes from
  // a span of the original that reads as that character, spans in order, nothing invented.
  const piece = fc.constantFrom(
    'a',
    'Z',
    '4',
    '@',
    '.',
    ' ',
    '  ',
    '\n',
    '\u200b',
    '\u00ad',
    '\ufeff',
    '\u00a0',
    '\t',
    '\uff14',
    '\uff20',
    '\u{1d7d2}',
    '\u0664',
    '\u0430',
    '\u0397',
    '\ufb01',
    '\u2013',
    'é',
    '\u{1f600}',
  );
  it.each(['seen', 'joined'] as const)(
    'maps every character of a %s view to an ordered original span (fast-check)',
    (spaces) => {
      fc.assert(
        fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
          const text = pieces.join('');
          const view = normalizedView(text, spaces);
          if (!view) return;
          let last = 0;
          for (let i = 0; i < view.text.length; i++) {
            const span = view.toOriginal(i, i + 1);
            expect(span.start).toBeGreaterThanOrEqual(last);
            expect(span.end).toBeGreaterThan(span.start);
            expect(read(text.slice(span.start, span.end), spaces)).toContain(view.text[i]);
            last = span.start;
          }
        }),
        { numRuns: 1000 },
      );
    },
  );
});

describe('entities hidden with Unicode are found, and their original span is what gets masked', () => {
  const email = 'jane.roe@example.org';
  const cases: Array<[string, string, string]> = [
    ['an e-mail with a zero-width space', 'EMAIL', 'jane.roe\u200b@example.org'],
    ['an e-mail with a soft hyphen', 'EMAIL', 'jane.\u00adroe@example.org'],
    ['an e-mail with a full-width at sign', 'EMAIL', 'jane.roe\uff20example.org'],
    ['an e-mail with no-break spaces around the at sign', 'EMAIL', 'jane.roe\u00a0@\u00a0example.org'],
    ['an e-mail with a Cyrillic look-alike letter (masked whole)', 'EMAIL', 'j\u0430ne.roe@ex\u0430mple.org'],
    [
      'a card in full-width digits',
      'CREDIT_CARD',
      '\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11',
    ],
    ['a card with no-break spaces', 'CREDIT_CARD', '4111\u00a01111\u00a01111\u00a01111'],
    ['a card with dots', 'CREDIT_CARD', '4111.1111.1111.1111'],
    [
      'a card in Arabic-Indic digits',
      'CREDIT_CARD',
      '\u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661',
    ],
    ['a card in mathematical digits', 'CREDIT_CARD', `\u{1d7d2}${'\u{1d7cf}'.repeat(15)}`],
    ['a card with doubled spaces', 'CREDIT_CARD', '4111  1111  1111  1111'],
    ['a card with tabs', 'CREDIT_CARD', '4111\t1111\t1111\t1111'],
    ['a card with en dashes', 'CREDIT_CARD', '4111\u20131111\u20131111\u20131111'],
  ];
  for (const [what, type, value] of cases) {
    it(what, () => {
      expect(found(`send it to ${value} today`)).toEqual([{ type, value }]);
    });
  }

  it('dotted numbers that are versions, IP addresses or OIDs are not cards', () => {
    expect(found('build 7.4111.1111.1111.1111 and 4111.1111.1111.1111.2')).toEqual([]);
    expect(found('oid 1.4111.1111.1111.1111 and 10.0.0.1')).toEqual([{ type: 'IP_ADDRESS', value: '10.0.0.1' }]);
  });

  it(
    'two entities in columns two spaces apart stay two ' +
      '(doubled spaces are joined only where nothing else was found)',
    () => {
      expect(found('+1 (415) 555-0100  2001:db8::8a2e:370:7334')).toEqual([
        { type: 'PHONE', value: '+1 (415) 555-0100' },
        { type: 'IP_ADDRESS', value: '2001:db8::8a2e:370:7334' },
      ]);
    },
  );

  it('any mix of invisible characters and odd spaces inside an e-mail hides nothing (fast-check)', () => {
    const hidden = fc.constantFrom(
      '\u200b',
      '\u200c',
      '\u200d',
      '\u2060',
      '\ufeff',
      '\u00ad',
      '\u00a0',
      '\u202f',
      '\u2009',
      '\u034f',
      '\ufe0f',
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: email.length }), hidden), { maxLength: 6 }), (inserts) => {
        let value = email;
        for (const [at, ch] of [...inserts].sort((a, b) => b[0] - a[0]))
          value = value.slice(0, at) + ch + value.slice(at);
        const text = `mail: ${value} (work)`;
        const matches = found(text);
        expect(matches).toHaveLength(1);
        // The masked span covers every visible character of the address.
        expect(read(matches[0]!.value, 'joined')).toBe(email);
      }),
      { numRuns: 300 },
    );
  });
});

describe('keywords hidden with Unicode or spacing still match', () => {
  const matcher = TextMatcher.fromRules({ keywords: ['Project Nightingale', 'password'] });
  const cases: Array<[string, string]> = [
    ['a no-break space', 'Project\u00a0Nightingale'],
    ['a zero-width space', 'pass\u200bword'],
    ['doubled spaces', 'project   nightingale'],
    ['a Cyrillic homoglyph', 'pr\u043eject nightingale'],
    ['a split across two blocks (joined by a newline)', 'the project night\ningale plan'],
    ['a split across two blocks between its words', 'the project\nnightingale plan'],
    ['full-width letters', '\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44'],
    ['mathematical letters', '\u{1d429}\u{1d41a}\u{1d42c}\u{1d42c}\u{1d430}\u{1d428}\u{1d42b}\u{1d41d}'],
    ['Greek capitals', 'PROJECT NIGHTING\u0391L\u0395'],
    ['a variation selector and a combining grapheme joiner', 'pass\ufe0fwo\u034frd'],
    ['a tab and a carriage return', 'project\t\r\nnightingale'],
  ];
  for (const [what, text] of cases) {
    it(what, () => {
      expect(matcher.match(text).keywords.length).toBe(1);
    });
  }

  it('a keyword spelled with a look-alike is found, and named as the policy wrote it (lower-cased)', () => {
    const greek = TextMatcher.fromRules({ keywords: ['\u0397ELIOS'] });
    expect(greek.match('the Helios launch').keywords).toEqual(['\u03b7elios']);
    expect(greek.match('the nelios launch').keywords).toEqual([]);
  });

  it('letters of neighbouring words do not make a keyword (spacing is folded, not removed)', () => {
    const short = TextMatcher.fromRules({ keywords: ['ssn', 'password'] });
    expect(short.match('this snippet lists less noise; pass word').keywords).toEqual([]);
    expect(short.match('a passing word about projects').keywords).toEqual([]);
    expect(keywordText('Pr\u043e\u00a0JECT')).toBe('pro ject');
  });
});
