/**
 * The built-in entity types. Every pattern is written for linear-time matching in V8's
 * backtracking engine: each starts at a cheap anchor (a literal prefix or a one-character
 * look-behind boundary), every quantifier is bounded, and no quantified group can match the
 * same text in two ways, so a failed attempt costs at most a small constant per position.
 * Credential patterns have no trailing boundary on purpose: a key longer than the bound is
 * still masked up to the bound instead of slipping through whole.
 */
import {
  creditCardValid,
  ibanValid,
  ipValid,
  jwtValid,
  keyBodyValid,
  phoneValid,
  secretValueValid,
  ssnValid,
} from './entity-validators.ts';

/** How the stream masker decides how much of a text's end to hold back for this type. */
export type TailRule =
  | { readonly kind: 'charset'; readonly chars: string; readonly max: number }
  | { readonly kind: 'pem' }
  | { readonly kind: 'assignment' };

/** One entity type the detector knows. */
export interface EntityPattern {
  readonly type: string;
  /** Regex source, no flags; a named group `v` marks the masked part when it is not the whole match. */
  readonly source: string;
  readonly validate?: (value: string) => boolean;
  /** PII and credential formats with a checkable structure (the 0.98 / 0.99 corpus bar applies). */
  readonly structured: boolean;
  readonly tail: TailRule;
  /**
   * The match begins before what the pattern matched: walk back over these characters (at most
   * `max`) and start at the first one in `first`. Lets a pattern anchor on a rare character
   * (an email's `@`) instead of trying every word start.
   */
  readonly extendBack?: {
    readonly chars: RegExp;
    readonly first: RegExp;
    readonly max: number;
    /** The match may begin where the pattern did (nothing to walk back over); else it needs one character. */
    readonly optional?: boolean;
  };
  /**
   * Characters of which every match of `source` contains at least one ('@', the digits). A text
   * with none of them is not scanned for this type; each is looked for with a plain string search
   * (memchr), far cheaper than a regular expression over the text. Omitted where the expression
   * begins at a literal (`sk-ant-`), which V8 already skips ahead to as fast, and for custom types.
   */
  readonly triggerChars?: string;
}

/** `[Pp][Aa]…`: case-insensitive text without the `i` flag, which would apply to every type. */
function ci(word: string): string {
  return word.replace(/[a-z]/g, (c) => `[${c.toUpperCase()}${c}]`);
}

const ALNUM = 'A-Za-z0-9';
const DIGITS = '0123456789';
const KEY = `${ALNUM}_\\-`;
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const LABEL = `[${ALNUM}](?:[${ALNUM}-]{0,61}[${ALNUM}])?`;
/** IPv6 in any compression; a `.` after it ends a sentence unless a word or number follows. */
// It begins at its first ':' (hex digits before it are taken back by extendBack): begun at the
// group before, it would be tried at every word start of prose, most of a scan's cost.
const IPV6 =
  `:(?<=(?<![\\w.:])[0-9A-Fa-f]{0,4}:)(?:[0-9A-Fa-f]{0,4}:){1,6}` +
  `(?:${OCTET}(?:\\.${OCTET}){3}|[0-9A-Fa-f]{1,4})?(?![\\w:]|\\.\\w)`;
const SECRET_WORDS = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'api-key',
  'access_key',
  'private_key',
  'client_secret',
  'auth',
];

const KEY_TAIL: TailRule = { kind: 'charset', chars: `${ALNUM}_-./+=`, max: 8192 };

/** Credential types: what a response mask of "credentials" covers. */
export const CREDENTIAL_TYPES = [
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'AWS_ACCESS_KEY',
  'GITHUB_TOKEN',
  'SLACK_TOKEN',
  'STRIPE_KEY',
  'GOOGLE_API_KEY',
  'JWT',
  'PRIVATE_KEY',
  'SECRET_ASSIGNMENT',
] as const;

/** The built-in types in match priority order (earlier alternatives win at the same position). */
export const BUILTIN_PATTERNS: readonly EntityPattern[] = [
  {
    type: 'PRIVATE_KEY',
    // Up to its END line; a block cut short (no END) is masked over its base64 body instead. A
    // dash not followed by four more is body: legacy encrypted keys have `Proc-Type`, `AES-128-CBC`.
    source: [
      '-----BEGIN[A-Z ]{0,24} PRIVATE KEY(?: BLOCK)?-----',
      '(?:(?:[^-]|-(?!----)){0,16384}?-----END[A-Z ]{0,24} PRIVATE KEY(?: BLOCK)?-----',
      '|(?:[A-Za-z0-9+/=:,\\s]|-(?!----)){0,16384})',
    ].join(''),
    structured: true,
    tail: { kind: 'pem' },
  },
  {
    type: 'ANTHROPIC_API_KEY',
    source: `(?<![${KEY}])sk-ant-[a-z]{3,6}\\d{2}-[${KEY}]{32,200}`,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'OPENAI_API_KEY',
    source: `(?<![${KEY}])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[${KEY}]{32,200}`,
    validate: keyBodyValid,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'AWS_ACCESS_KEY',
    source: `(?<![${ALNUM}])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![${ALNUM}])`,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'GITHUB_TOKEN',
    source: `(?<![${KEY}])(?:gh[pousr]_[${ALNUM}]{36,255}|github_pat_[${ALNUM}_]{22,255})`,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'SLACK_TOKEN',
    source:
      `(?<![${KEY}])(?:xox[baprse]-[${ALNUM}-]{10,250}|` +
      `hooks\\.slack\\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[${ALNUM}]{20,32})`,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'STRIPE_KEY',
    source: `(?<![${KEY}])(?:sk|rk)_(?:live|test)_[${ALNUM}]{16,247}|whsec_[${ALNUM}]{24,64}`,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'GOOGLE_API_KEY',
    source: `(?<![${KEY}])AIza[${KEY}]{35}`,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'JWT',
    source: `(?<![${KEY}])eyJ[${KEY}]{8,4096}\\.eyJ[${KEY}]{4,16384}\\.[${KEY}]{0,2048}`,
    validate: jwtValid,
    structured: true,
    tail: KEY_TAIL,
  },
  {
    type: 'SECRET_ASSIGNMENT',
    triggerChars: ':=',
    // No left boundary or prefix group: only the value is masked, and scanning prefixes at every
    // word start was most of this pattern's cost; `DB_PASSWORD=` still matches at its keyword.
    source:
      `(?:${SECRET_WORDS.map(ci).join('|')})(?:[_.-][${ALNUM}]{1,16}){0,2}` +
      `["']?[ \\t]{0,3}[:=][ \\t]{0,3}["']?(?<v>[^\\s"'\\\\,;]{6,200})`,
    validate: secretValueValid,
    structured: false,
    tail: { kind: 'assignment' },
  },
  {
    type: 'EMAIL',
    triggerChars: '@',
    // '@' first and the look-behind after it: a leading look-behind would run at every position.
    source: `@(?<=[${ALNUM}._%+-]@)${LABEL}(?:\\.${LABEL}){0,8}\\.[A-Za-z]{2,24}(?![${ALNUM}-]|\\.[${ALNUM}])`,
    structured: true,
    extendBack: { chars: /[A-Za-z0-9._%+-]/, first: /[A-Za-z0-9]/, max: 64 },
    tail: { kind: 'charset', chars: `${ALNUM}._%+-@`, max: 254 },
  },
  {
    type: 'CREDIT_CARD',
    triggerChars: DIGITS,
    // Groups of four separated by spaces, hyphens or dots (4111.1111.1111.1111 is a card to a reader);
    // dotted groups never continue a dotted number (an OID or a version: 1.4111.1111.1111.1111).
    source:
      `(?<![\\d-])(?:\\d{4}(?: \\d{4}){2} \\d{1,7}|\\d{4}(?:-\\d{4}){2}-\\d{1,7}|` +
      `(?<!\\d\\.)\\d{4}(?:\\.\\d{4}){2}\\.\\d{1,7}|\\d{4}[ -]\\d{6}[ -]\\d{5}|\\d{13,19})(?![\\d-]|\\.\\d)`,
    validate: creditCardValid,
    structured: true,
    tail: { kind: 'charset', chars: '0123456789 -.', max: 23 },
  },
  {
    type: 'IBAN',
    triggerChars: DIGITS,
    source: `(?<![${ALNUM}])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![${ALNUM}])`,
    validate: ibanValid,
    structured: true,
    tail: { kind: 'charset', chars: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ', max: 42 },
  },
  {
    type: 'US_SSN',
    triggerChars: DIGITS,
    source: `(?<![\\d-])(?:\\d{3}-\\d{2}-\\d{4}|\\d{3} \\d{2} \\d{4})(?![\\d-]|\\.\\d)`,
    validate: ssnValid,
    structured: true,
    tail: { kind: 'charset', chars: '0123456789 -', max: 11 },
  },
  {
    type: 'PHONE',
    triggerChars: DIGITS,
    // International: a country code, then groups of up to 8 digits (`+44 20 79460958`), the first
    // possibly in parentheses after a trunk or area code (`+44 (0)20 …`, `+1 (415) …`); every
    // group starts with its separator, so a digit run is never split two ways. French national
    // numbers come in pairs (`01 23 45 67 89`); the validator counts digits and country codes.
    source: `(?<![\\w+.-])(?:${[
      '\\+[1-9]\\d{0,3}(?:[ .-]?\\(\\d{1,4}\\)[ .-]?\\d{1,8}|[ .-]\\d{1,8})(?:[ .-]\\d{1,8}){0,6}',
      '\\+[1-9]\\d{7,14}',
      '0[1-9](?: \\d\\d){4}',
      '0[1-9](?:\\.\\d\\d){4}',
      '\\(\\d{3}\\) ?\\d{3}[ .-]\\d{4}',
      '\\d{3}\\.\\d{3}\\.\\d{4}',
      '\\d{3}-\\d{3}-\\d{4}',
      '0\\d{1,4}[ -]\\d{3,4}[ -]?\\d{3,4}(?![ -]\\d)',
    ].join('|')})(?![\\w-]|\\.\\d)`,
    validate: phoneValid,
    structured: true,
    // '+', 15 digits, a separator before each of up to 8 groups and a '(0)' trunk.
    tail: { kind: 'charset', chars: '0123456789 ()+.-', max: 32 },
  },
  {
    type: 'IP_ADDRESS',
    triggerChars: `${DIGITS}:`,
    source: `(?<![\\w.:])${OCTET}(?:\\.${OCTET}){3}(?!\\.?\\d)|${IPV6}`,
    extendBack: { chars: /[0-9A-Fa-f]/, first: /[0-9A-Fa-f]/, max: 4, optional: true },
    validate: ipValid,
    structured: true,
    tail: { kind: 'charset', chars: '0123456789abcdefABCDEF:.', max: 45 },
  },
];
