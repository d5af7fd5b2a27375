/**
 * Validators that turn a pattern match into a finding only when the value is plausible, which
 * is what keeps look-alikes (order numbers, timestamps, versions) out. They run on candidates
 * only, never on the whole text, so they are off the hot path.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { countrySpecs } from 'ibantools';

/** Luhn checksum; hand-written because it is six lines and runs per candidate (no dependency pays for itself). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double && (d *= 2) > 9) d -= 9;
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const onlyDigits = (s: string): string => s.replace(/[^0-9]/g, '');

/** Issuer prefixes (IIN ranges) of the card networks, with their lengths. */
const CARD_NETWORKS: ReadonlyArray<readonly [RegExp, number, number]> = [
  [/^4/, 13, 19], // Visa
  [/^(?:5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720))/, 16, 16], // Mastercard
  [/^3[47]/, 15, 15], // American Express
  [/^(?:6011|65|64[4-9])/, 16, 19], // Discover
  [/^35(?:2[89]|[3-8]\d)/, 16, 19], // JCB
  [/^3(?:0[0-5]|[689])/, 14, 19], // Diners Club
  [/^(?:62)/, 16, 19], // UnionPay
];

/** A card number: a known network prefix and length, and a valid Luhn checksum. */
export function creditCardValid(value: string): boolean {
  const digits = onlyDigits(value);
  const known = CARD_NETWORKS.some(
    ([prefix, min, max]) => prefix.test(digits) && digits.length >= min && digits.length <= max,
  );
  return known && luhnValid(digits);
}

/**
 * An IBAN: a country ibantools knows, that country's length, check digits 02–98 and the ISO 13616
 * mod-97 check. Not the national BBAN format or check digits (what ibantools' isValidIBAN adds):
 * masking protects whoever owns the number, and a mistyped or test account is theirs just as much.
 */
export function ibanValid(value: string): boolean {
  const iban = value.replace(/ /g, '');
  const length = countrySpecs[iban.slice(0, 2)]?.chars;
  const check = Number(iban.slice(2, 4));
  return length === iban.length && check >= 2 && check <= 98 && mod97(iban.slice(4) + iban.slice(0, 4)) === 1;
}

/** ISO 7064 mod 97-10 of letters-as-numbers (A=10 … Z=35); hand-written: ibantools does not export its own. */
function mod97(chars: string): number {
  let rest = 0;
  for (const c of chars) {
    const n = parseInt(c, 36);
    rest = (n < 10 ? rest * 10 + n : rest * 100 + n) % 97;
  }
  return rest;
}

/** A US SSN in the ranges the SSA issues: area not 000, 666 or 9xx; group not 00; serial not 0000. */
export function ssnValid(value: string): boolean {
  const d = onlyDigits(value);
  const area = d.slice(0, 3);
  return (
    d.length === 9 &&
    area !== '000' &&
    area !== '666' &&
    area[0] !== '9' &&
    d.slice(3, 5) !== '00' &&
    d.slice(5) !== '0000'
  );
}

/** IPv4 or IPv6 as Node's own parser reads it (no regex can validate IPv6 compression well). */
export function ipValid(value: string): boolean {
  // IPv6 needs a decimal digit: `::` alone is C++ scope or YAML, and `Add::Face`, `bad::beef` are
  // code paths made of hex letters; an address written in text (2001:db8::, fe80::1, ::1) has one.
  return value.includes(':') ? /[0-9]/.test(value) && isIPv6(value) : isIPv4(value);
}

/**
 * ITU-T E.164 country codes form a prefix code: these one- and two-digit codes, else three digits
 * under a two-digit prefix that is neither a code itself nor spare (28, 83, 89).
 */
const COUNTRY_CODES = new Set([
  '1',
  '7',
  '20',
  '27',
  '30',
  '31',
  '32',
  '33',
  '34',
  '36',
  '39',
  '40',
  '41',
  '43',
  '44',
  '45',
  '46',
  '47',
  '48',
  '49',
  '51',
  '52',
  '53',
  '54',
  '55',
  '56',
  '57',
  '58',
  '60',
  '61',
  '62',
  '63',
  '64',
  '65',
  '66',
  '81',
  '82',
  '84',
  '86',
  '90',
  '91',
  '92',
  '93',
  '94',
  '95',
  '98',
]);
const SPARE_PREFIXES = new Set(['28', '83', '89']);

/** Whether `cc` is a country calling code (the digits after `+` a writer set apart with a space or dash). */
export function countryCodeValid(cc: string): boolean {
  if (cc.length < 3) return COUNTRY_CODES.has(cc);
  const prefix = cc.slice(0, 2);
  return cc.length === 3 && !COUNTRY_CODES.has(cc[0]!) && !COUNTRY_CODES.has(prefix) && !SPARE_PREFIXES.has(prefix);
}

/**
 * A phone number: 8–15 digits (E.164) for international form, whose country code, when written
 * apart from the rest (`+44 20 …`), is an assigned one (`+12 345 678 90` is a score, not a phone);
 * NANP rules for the national one.
 */
export function phoneValid(value: string): boolean {
  const digits = onlyDigits(value);
  if (value.startsWith('+')) {
    const cc = /^\+(\d+)[ .(-]/.exec(value);
    return digits.length >= 8 && digits.length <= 15 && (cc === null || countryCodeValid(cc[1]!));
  }
  if (digits.length === 10 && /^[2-9]\d\d[2-9]/.test(digits)) return true;
  return digits.length >= 10 && digits.length <= 11 && digits.startsWith('0') && !digits.startsWith('00');
}

/** A JWT: the header decodes to a JSON object naming an algorithm. */
export function jwtValid(value: string): boolean {
  const header = value.slice(0, value.indexOf('.'));
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** Words that follow `password:` in code and docs without being a secret. */
const NOT_SECRETS = new Set([
  'string',
  'number',
  'boolean',
  'null',
  'none',
  'undefined',
  'required',
  'optional',
  'true',
  'false',
  'redacted',
  'example',
  'password',
  'secret',
  'changeme',
  'str',
  'bytes',
]);

/** The value of a `password=` style assignment: not a type name, placeholder or mask, and not trivially short. */
export function secretValueValid(value: string): boolean {
  const v = value.replace(/[.)\]}>]+$/, '');
  if (v.length < 6 || NOT_SECRETS.has(v.toLowerCase())) return false;
  // Templates and masks: [EMAIL_1], <your-password>, {{secret}}, ${VAR}, %VAR%, ****, xxxx.
  return !/^(?:\[.*|<.*|\{.*|\$\{?\w+\}?|%\w+%|%s|\*+|x+|\.+|-+|_+)$/i.test(v);
}

/** A random-looking key body: letters of both cases and a digit, which prose and slugs rarely have. */
export function keyBodyValid(value: string): boolean {
  return /[a-z]/.test(value) && /[A-Z]/.test(value) && /\d/.test(value);
}
