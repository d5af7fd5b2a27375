/**
 * Validators that turn a pattern match into a finding only when the value is plausible, which
 * is what keeps look-alikes (order numbers, timestamps, versions) out. They run on candidates
 * only, never on the whole text, so they are off the hot path.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ValidationErrorsIBAN, validateIBAN } from 'ibantools';

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
  const known = CARD_NETWORKS.some(([prefix, min, max]) => prefix.test(digits) && digits.length >= min && digits.length <= max);
  return known && luhnValid(digits);
}

/** An IBAN: country-specific length and BBAN format plus the mod-97 check, via ibantools. */
export function ibanValid(value: string): boolean {
  // Country, length, BBAN format and the ISO 13616 mod-97 check digits. A national check digit
  // that fails is still an IBAN: masking protects privacy, it does not validate bank data.
  const { errorCodes } = validateIBAN(value.replace(/ /g, ''), { allowQRIBAN: true });
  return errorCodes.every((code) => code === ValidationErrorsIBAN.WrongAccountBankBranchChecksum);
}

/** A US SSN in the ranges the SSA issues: area not 000, 666 or 9xx; group not 00; serial not 0000. */
export function ssnValid(value: string): boolean {
  const d = onlyDigits(value);
  const area = d.slice(0, 3);
  return d.length === 9 && area !== '000' && area !== '666' && area[0] !== '9' && d.slice(3, 5) !== '00' && d.slice(5) !== '0000';
}

/** IPv4 or IPv6 as Node's own parser reads it (no regex can validate IPv6 compression well). */
export function ipValid(value: string): boolean {
  // `::` alone is valid IPv6 but in text it is C++ scope or YAML, not an address.
  return value.includes(':') ? /[0-9A-Fa-f]/.test(value) && isIPv6(value) : isIPv4(value);
}

/** A phone number: 8–15 digits (E.164) for international form; NANP rules for the national one. */
export function phoneValid(value: string): boolean {
  const digits = onlyDigits(value);
  if (value.startsWith('+')) return digits.length >= 8 && digits.length <= 15;
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
const NOT_SECRETS = new Set(['string', 'number', 'boolean', 'null', 'none', 'undefined', 'required', 'optional', 'true', 'false', 'redacted', 'example', 'password', 'secret', 'changeme', 'str', 'bytes']);

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
