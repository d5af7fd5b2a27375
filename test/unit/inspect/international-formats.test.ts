/**
 * International formats the detector must mask, and their look-alikes it must leave alone:
 * E.164 numbers written with spaces (`+44 20 79460958`), compressed IPv6, and IBANs that pass
 * the ISO 13616 mod-97 check whatever their national check digits.
 */
import { describe, expect, it } from 'vitest';
import { EntityDetector } from '../../../gateway/inspect/entity-detector.ts';
import { countryCodeValid, ibanValid } from '../../../gateway/inspect/entity-validators.ts';

const detector = new EntityDetector();
/** Every finding in `text` as `TYPE:value`. */
const found = (text: string): string[] => detector.scan(text).map((m) => `${m.type}:${text.slice(m.start, m.end)}`);

/** The ISO 13616 check digits for a country and BBAN (so the tests hold IBANs made here, not copied). */
function withCheckDigits(country: string, bban: string): string {
  const digits = [...`${bban}${country}00`].map((c) => parseInt(c, 36)).join('');
  let rest = 0;
  for (const d of digits) rest = (rest * 10 + Number(d)) % 97;
  return `${country}${String(98 - rest).padStart(2, '0')}${bban}`;
}
const grouped = (iban: string): string => iban.replace(/(.{4})(?=.)/g, '$1 ');

describe('international phone numbers', () => {
  it.each([
    '+44 20 79460958',
    '+44 20 7946 0958',
    '+44 (0)20 7946 0958',
    '+44 7700 900123',
    '+33 1 23 45 67 89',
    '+1 415 555 0132',
    '+1 (415) 555-0132',
    '+49 30 12345678',
    '+49 (0)30 1234 5678',
    '+81 3-1234-5678',
    '+81 90 1234 5678',
    '+61 2 9876 5432',
    '+353 1 234 5678',
    '+91 98765 43210',
    '+55 11 91234-5678',
    '+7 495 123-45-67',
    '+86 10 1234 5678',
    '+34 912 345 678',
    '01 23 45 67 89',
    '01.23.45.67.89',
  ])('masks %s in a sentence', (phone) => {
    expect(found(`Call me on ${phone}, please.`)).toEqual([`PHONE:${phone}`]);
  });

  it.each([
    ['a score written with a plus', 'Team A leads +12 345 678 90 points'],
    ['a date after a plus', 'shipped +2024-01-15 already'],
    ['a version', 'upgrade to v10.2.33 and 1.23.45.67'],
    ['a price', 'it costs +1 234.56 EUR, or €1 299,00'],
    ['an order id', 'order 2024-000123-77 and #55 1234 5678'],
    ['an IPv4 address after a plus', 'peer +192.0.2.10 joined'],
    ['a time range', 'from 10:30 to 11:45 on 12.03.2024'],
    ['an ISBN', 'ISBN 978-3-16-148410-0'],
  ])('leaves %s alone', (_name, text) => {
    expect(found(text).filter((f) => f.startsWith('PHONE:'))).toEqual([]);
  });

  it('takes a country code only when it is an assigned one', () => {
    const assigned = ['1', '7', '20', '33', '44', '49', '81', '353', '880', '971'];
    const unassigned = ['2', '12', '100', '150', '280', '830', '891', '4420', ''];
    for (const cc of assigned) expect(countryCodeValid(cc), cc).toBe(true);
    for (const cc of unassigned) expect(countryCodeValid(cc), cc).toBe(false);
  });
});

describe('IPv6 addresses', () => {
  it.each([
    '2001:db8::8a2e:370:7334',
    '2001:DB8::8A2E:370:7334',
    '::1',
    '::ffff:192.0.2.1',
    'fe80::1',
    '2001:db8:0:0:1:0:0:1',
    '2001:db8::',
  ])('masks %s, also at the end of a sentence', (ip) => {
    expect(found(`Reach it at ${ip} now`)).toEqual([`IP_ADDRESS:${ip}`]);
    expect(found(`Reach it at ${ip}.`)).toEqual([`IP_ADDRESS:${ip}`]);
  });

  it('masks a link-local address and leaves its zone (an interface name, not the address)', () => {
    expect(found('ping fe80::1%eth0 now')).toEqual(['IP_ADDRESS:fe80::1']);
  });

  it.each([
    ['a time', 'at 12:30:45 sharp'],
    ['a MAC address (no type of its own; not an IP)', 'mac 00:1A:2B:3C:4D:5E and 00:1a:2b:3c:4d:5e'],
    ['C++ and Rust paths', 'std::cout, Vec::new, Add::Face and bad::beef'],
    ['a bare scope operator', 'use :: to qualify'],
  ])('leaves %s alone', (_name, text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('IBANs', () => {
  const cases: Array<[string, string]> = [
    ['Belgian, national check digits wrong', withCheckDigits('BE', '539007547035')],
    ['Spanish, national check digits wrong', withCheckDigits('ES', '21000418990200051331')],
    ['French, RIB key wrong', withCheckDigits('FR', '20041010050500013M02600')],
    ['Portuguese, national check digits wrong', withCheckDigits('PT', '000201231234567890199')],
    ['Norwegian, national check digit wrong', withCheckDigits('NO', '86011117948')],
    ['British, digits where the bank code has letters', withCheckDigits('GB', '1234ABCD567890ABCD')],
    ['German (registry example)', 'DE89370400440532013000'],
    ['Maltese, 31 characters', withCheckDigits('MT', 'MALT011000012345MTLCAST001S')],
  ];

  it.each(cases)('masks a mod-97-valid IBAN (%s), grouped or not', (_name, iban) => {
    expect(ibanValid(iban)).toBe(true);
    expect(found(`Pay to ${iban} today`)).toEqual([`IBAN:${iban}`]);
    expect(found(`Pay to ${grouped(iban)} today`)).toEqual([`IBAN:${grouped(iban)}`]);
  });

  it('refuses a failed mod-97, a wrong country length, an unknown country and check digits 00, 01 or 99', () => {
    const good = withCheckDigits('BE', '539007547035');
    const badCheck = `BE${String((Number(good.slice(2, 4)) % 90) + 3).padStart(2, '0')}${good.slice(4)}`;
    expect(ibanValid(badCheck)).toBe(false);
    expect(found(`Pay to ${grouped(badCheck)} today`)).toEqual([]);
    expect(ibanValid(withCheckDigits('BE', '5390075470351'))).toBe(false); // 17 characters; Belgium has 16
    expect(ibanValid(withCheckDigits('QQ', '539007547035'))).toBe(false);
    for (const cd of ['00', '01', '99']) expect(ibanValid(`DE${cd}370400440532013000`), cd).toBe(false);
  });
});
