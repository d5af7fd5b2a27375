/**
 * Generates the labelled entity corpus (test/fixtures/entities/corpus.jsonl): positives of every
 * type embedded in sentences, and hard negatives that look like entities but are not (order
 * numbers, UUIDs, timestamps, versions, Luhn-invalid numbers, bad checksums). Deterministic
 * (fixed seed); every "key" is a generated look-alike, never a real credential.
 * Run: node --import tsx scripts/gen-entity-corpus.ts
 */
import { writeFileSync } from 'node:fs';

let seed = 0x5eed_1234;
/** mulberry32: tiny, deterministic, good enough for test data. */
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
const chars = (set: string, n: number): string => Array.from({ length: n }, () => pick([...set])).join('');
const DIG = '0123456789';
const LOW = 'abcdefghijklmnopqrstuvwxyz';
const UP = LOW.toUpperCase();
const B62 = DIG + LOW + UP;
const digits = (n: number): string => chars(DIG, n);

function luhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0 && (d *= 2) > 9) d -= 9;
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}
function ibanCheck(country: string, bban: string): string {
  const s = `${bban}${country}00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let r = 0;
  for (const ch of s) r = (r * 10 + Number(ch)) % 97;
  return String(98 - r).padStart(2, '0');
}
const group4 = (s: string, sep: string): string => s.match(/.{1,4}/g)!.join(sep);
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

const gen: Record<string, () => string> = {
  EMAIL: () =>
    `${pick(['jane', 'john.doe', 'a.b-c', 'ops+alerts', 'x_y', 'maria.garcia'])}${int(1, 999)}` +
    `@${pick(['example', 'mail', 'corp-it', 'uni'])}.` +
    `${pick(['com', 'org', 'co.uk', 'de', 'io', 'example'])}`,
  PHONE: () => {
    const n = () => `${int(2, 9)}${digits(2)}`;
    return pick([
      () => `+1 (${n()}) ${n()}-${digits(4)}`,
      () => `+1-${n()}-${n()}-${digits(4)}`,
      () => `(${n()}) ${n()}-${digits(4)}`,
      () => `${n()}-${n()}-${digits(4)}`,
      () => `${n()}.${n()}.${digits(4)}`,
      () => `+44 20 ${digits(4)} ${digits(4)}`,
      () => `+49 30 ${digits(3)} ${digits(5)}`,
      () => `+33 1 ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`,
      () => `020 ${digits(4)} ${digits(4)}`,
      () => `+4915${digits(9)}`,
    ])();
  },
  CREDIT_CARD: () => {
    const [prefix, len] = pick([
      ['4', 16],
      ['51', 16],
      ['55', 16],
      ['2221', 16],
      ['34', 15],
      ['37', 15],
      ['6011', 16],
    ] as const);
    const body = prefix + digits(len - prefix.length - 1);
    const num = body + luhnDigit(body);
    if (len === 15) return pick([num, `${num.slice(0, 4)} ${num.slice(4, 10)} ${num.slice(10)}`]);
    return pick([num, group4(num, ' '), group4(num, '-')]);
  },
  IBAN: () => {
    const [c, bban] = pick([
      ['DE', () => digits(18)],
      ['GB', () => chars(UP, 4) + digits(14)],
      ['NL', () => chars(UP, 4) + digits(10)],
      ['AT', () => digits(16)],
      ['IT', () => chars(UP, 1) + digits(10) + chars(UP + DIG, 12)],
    ] as const);
    const b = bban();
    const iban = `${c}${ibanCheck(c, b)}${b}`;
    return c === 'IT' ? iban : pick([iban, group4(iban, ' ')]);
  },
  US_SSN: () =>
    `${pick([int(1, 665), int(667, 899)])
      .toString()
      .padStart(3, '0')}-${int(1, 99).toString().padStart(2, '0')}-${int(1, 9999).toString().padStart(4, '0')}`,
  IP_ADDRESS: () =>
    pick([
      () => `${int(1, 223)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
      () => Array.from({ length: 8 }, () => chars('0123456789abcdef', int(1, 4))).join(':'),
      () => `2001:db8::${chars('0123456789abcdef', 4)}`,
      () => `fe80::${chars('0123456789abcdef', 3)}:${chars('0123456789abcdef', 4)}`,
    ])(),
  ANTHROPIC_API_KEY: () => `sk-ant-api03-${chars(B62 + '_-', 93)}AA`,
  OPENAI_API_KEY: () => `sk-proj-${chars(B62, 20)}T3BlbkFJ${chars(B62, 20)}A1b`,
  AWS_ACCESS_KEY: () => `AKIA${chars(UP + '234567', 16)}`,
  GITHUB_TOKEN: () => pick([() => `ghp_${chars(B62, 36)}`, () => `github_pat_${chars(B62, 22)}_${chars(B62, 59)}`])(),
  SLACK_TOKEN: () => `xoxb-${digits(12)}-${digits(13)}-${chars(B62, 24)}`,
  STRIPE_KEY: () => `sk_live_${chars(B62, 24)}`,
  GOOGLE_API_KEY: () => `AIza${chars(B62 + '_-', 35)}`,
  JWT: () =>
    `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: `user${int(1, 9999)}`, iat: 1700000000 + int(0, 1e6) })}` +
    `.${chars(B62 + '_-', 43)}`,
  PRIVATE_KEY: () =>
    (
      `-----BEGIN ${pick(['', 'RSA ', 'EC ', 'OPENSSH '])}PRIVATE KEY-----\n` +
      `${Array.from({ length: int(2, 6) }, () => chars(B62 + '+/', 64)).join('\n')}\n-----END PRIVATE KEY-----`
    ).replace(
      /BEGIN (\w+ )?PRIVATE KEY-----([\s\S]*)-----END PRIVATE KEY/,
      (_m, t: string | undefined, body: string) =>
        `BEGIN ${t ?? ''}PRIVATE KEY-----${body}-----END ${t ?? ''}PRIVATE KEY`,
    ),
  SECRET_ASSIGNMENT: () => chars(B62 + '!#%&', int(10, 24)),
};

const templates = [
  'Please contact {} about the invoice.',
  'value: {}',
  '{}',
  'Logs show "{}" twice',
  'See ({}) for details.',
  'x={} y=1',
  'Details:\n{}\nThanks',
];
const negatives: Array<() => string> = [
  () => `order ORD-${digits(4)}-${digits(6)}`,
  () => `order #${digits(8)}`,
  () => `tracking ${digits(4)} ${digits(4)} ${digits(4)}`,
  () => `id ${[8, 4, 4, 4, 12].map((n) => chars('0123456789abcdef', n)).join('-')}`,
  () =>
    `at ${2000 + int(0, 30)}-${int(1, 12).toString().padStart(2, '0')}-${int(1, 28).toString().padStart(2, '0')}` +
    `T${int(0, 23)}:${int(10, 59)}:${int(10, 59)}Z`,
  () => `ran ${int(0, 23)}:${int(10, 59)}:${int(10, 59)}`,
  () => `version ${int(0, 20)}.${int(0, 30)}.${int(0, 99)}`,
  () => `build 10.0.${int(10000, 22000)}.${int(1, 999)}`,
  () => `v${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(0, 9)}`,
  () => {
    const body = `4${digits(14)}`;
    return `card ${group4(body + String((Number(luhnDigit(body)) + int(1, 9)) % 10), ' ')} (Luhn-invalid)`;
  },
  () => {
    const body = `5${int(1, 5)}${digits(13)}`;
    return `ref ${body}${(Number(luhnDigit(body)) + int(1, 9)) % 10}`;
  },
  () =>
    `IBAN DE${digits(2)}${digits(18)}`.replace(
      /DE(\d\d)(\d{18})/,
      (_m, cc: string, b: string) => `DE${cc === ibanCheck('DE', b) ? '00' : cc}${b}`,
    ),
  () => `ssn ${pick(['000', '666', '9' + digits(2)])}-${digits(2)}-${digits(4)}`,
  () => `code ${digits(3)}-${digits(2)}-${digits(3)}`,
  () => `mention @${chars(LOW, 6)} on slack`,
  () => `host user@localhost`,
  () => `price $${int(1, 9)},${digits(3)}.${digits(2)}`,
  () => `commit ${chars('0123456789abcdef', 40)}`,
  () => `sk-learn-${chars(LOW, 12)}-tutorial`,
  () => `password: string`,
  () => `password=<your-password>`,
  () => `mac ${Array.from({ length: 6 }, () => chars('0123456789ABCDEF', 2)).join(':')}`,
  () => `addr ${int(256, 999)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}`,
  () => `phone ext ${digits(4)}`,
  () => `pin ${digits(6)}`,
  () => `year range 1999-2024`,
  () => `ratio 3:2:1`,
  () => `AKIA${chars(LOW, 16)}`,
  () => `token_count = ${int(1, 999)}`,
  () => `eyJ is how base64 JSON starts`,
  () => `call 555-0100`,
  () => `ISBN 978-${digits(1)}-${digits(3)}-${digits(5)}-${digits(1)}`,
];

const lines: string[] = [];
const types = Object.keys(gen);
for (let i = 0; i < 700; i++) {
  const type = types[i % types.length]!;
  const value = gen[type]!();
  const tpl =
    type === 'SECRET_ASSIGNMENT'
      ? pick(['password = "{}"', 'DB_PASSWORD={}', 'client_secret: {}', "api_key='{}'"])
      : pick(templates);
  lines.push(JSON.stringify({ text: tpl.replace('{}', value), expect: [{ type, value }] }));
}
for (let i = 0; i < 700; i++) lines.push(JSON.stringify({ text: negatives[i % negatives.length]!(), expect: [] }));
writeFileSync(new URL('../test/fixtures/entities/corpus.jsonl', import.meta.url), `${lines.join('\n')}\n`);
console.log(`wrote ${lines.length} examples (700 positives, 700 hard negatives)`);
