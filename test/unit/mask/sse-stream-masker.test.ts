/**
 * The stream masker against split secrets: whatever the delta sizes and wherever the byte stream
 * is cut, the caller receives exactly the text the whole-message masker would produce, so no
 * secret byte sequence, not even a prefix, reaches the client; events, usage and pings survive.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildDetectorKit } from '../../../gateway/inspect/detector-kit.ts';
import { MaskPlan } from '../../../gateway/mask/mask-plan.ts';
import { maskText } from '../../../gateway/mask/mask-text.ts';
import { SseStreamMasker } from '../../../gateway/relay/sse-stream-masker.ts';
import type { MaskDirective } from '../../../gateway/policy/decision.ts';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';
import { formatSseEvent } from '../../../gateway/relay/sse-writer.ts';

const kit = buildDetectorKit({});
const SECRETS = [
  `sk-ant-api03-${'Qw3'.repeat(31)}AA`,
  'jane.roe@example.org',
  '4111 1111 1111 1111',
  'AKIAQWERTYUI2345ABCD',
  'DE89 3704 0044 0532 0130 00',
  '+1 (415) 555-0100',
  '2001:db8::8a2e:370:7334',
];
const ALL: MaskDirective = { request: [], response: kit.detector.types, style: 'placeholder', restore: false };

function streamOf(text: string, cuts: number[]): string {
  const points = [...new Set(cuts.map((c) => Math.min(text.length, c)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let at = 0;
  for (const p of [...points, text.length]) {
    if (p > at) pieces.push(text.slice(at, p));
    at = Math.max(at, p);
  }
  const ev = (event: string, data: unknown): string => formatSseEvent(event, data);
  return [
    ev('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'm',
        content: [],
        stop_reason: null,
        usage: { input_tokens: 5, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', { type: 'ping' }),
    ...pieces.map((t) =>
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }),
    ),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 42 },
    }),
    ev('message_stop', { type: 'message_stop' }),
  ].join('');
}

/** Runs the masker over `sse` cut into byte chunks at `cuts`; returns what the client got, parsed. */
function run(
  sse: string,
  byteCuts: number[],
  directive = ALL,
): {
  text: string;
  message: { usage: { output_tokens: number }; content: Array<{ text: string }> };
  events: string[];
  raw: string;
} {
  const bytes = Buffer.from(sse);
  const masker = new SseStreamMasker(new MaskPlan(kit, directive, Buffer.alloc(32)));
  const recorder = new SseRecorder();
  let raw = '';
  let at = 0;
  for (const cut of [...byteCuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    if (cut <= at) continue;
    const out = masker.push(bytes.subarray(at, cut));
    raw += out.client;
    at = cut;
  }
  raw += masker.end().client;
  recorder.push(Buffer.from(raw));
  recorder.end();
  const message = recorder.reconstruct() as { usage: { output_tokens: number }; content: Array<{ text: string }> };
  return { text: message.content[0]!.text, message, events: recorder.events.map((e) => e.event), raw };
}

function expected(text: string): string {
  const plan = new MaskPlan(kit, ALL, Buffer.alloc(32));
  return maskText(text, kit.detector.scan(text), plan.responseTypes, plan.replacer).text;
}

const prose = fc.string({ unit: fc.constantFrom(...'ab xyz.,:;-@(\n1290'.split('')), maxLength: 24 });

describe('SseStreamMasker', () => {
  it('never lets a secret through, whatever the delta sizes and byte chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(prose, fc.constantFrom(...SECRETS)), { minLength: 1, maxLength: 4 }),
        prose,
        fc.array(fc.nat({ max: 400 }), { maxLength: 40 }),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 30 }),
        (parts, tail, deltaCuts, byteCuts) => {
          const text = parts.map(([p, s]) => `${p} ${s} `).join('') + tail;
          const { text: got, raw } = run(streamOf(text, deltaCuts), byteCuts);
          expect(got).toBe(expected(text));
          for (const s of SECRETS) expect(raw).not.toContain(s.slice(-10));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds at every single chunk boundary of one stream (exhaustive)', () => {
    const text = `Mail ${SECRETS[1]} and key ${SECRETS[0]} now.`;
    const sse = streamOf(text, [3, 9, 14, 20, 27, 40, 60, 90, 120]);
    const want = expected(text);
    for (let cut = 1; cut < Buffer.byteLength(sse); cut++) {
      const { text: got, raw } = run(sse, [cut]);
      expect(got).toBe(want);
      expect(raw).not.toContain('Qw3Qw3');
    }
  });

  it('masks an entity hidden with zero-width characters and no-break spaces, at every delta and byte cut', () => {
    const text = 'Mail jane.roe\u200b@\u00a0example.org and card 4111\u200b1111\u00a01111\u20601111 now.';
    const want = expected(text);
    expect(want).toBe('Mail [EMAIL_1] and card [CREDIT_CARD_1] now.');
    for (let cut = 1; cut < text.length; cut++) {
      const sse = streamOf(text, [cut, cut + 3]);
      for (const byteCut of [0, Math.floor(Buffer.byteLength(sse) / 2)]) {
        const { text: got, raw } = run(sse, [byteCut]);
        expect(got, `delta cut at ${cut}`).toBe(want);
        expect(raw).not.toContain('example.org');
      }
    }
  });

  it(
    'masks cards in full-width, mathematical and Arabic-Indic digits or with doubled spaces, ' + 'at every delta cut',
    () => {
      const cards = [
        '\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11',
        `\u{1d7d2}${'\u{1d7cf}'.repeat(15)}`,
        '\u0664\u0661\u0661\u0661\u2060\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661',
        '4111  1111\u200b  1111  1111',
      ];
      const text = `Cards: ${cards.join(', ')}; mail j\u0430ne.roe\u00ad@example.org.`;
      const want = expected(text);
      expect(want).toBe('Cards: [CREDIT_CARD_1], [CREDIT_CARD_2], [CREDIT_CARD_3], [CREDIT_CARD_4]; mail [EMAIL_1].');
      for (let cut = 1; cut < text.length; cut++) {
        // Never between the two halves of a mathematical digit: an upstream delta holds whole characters.
        if (/[\ud800-\udbff]/.test(text[cut - 1]!)) continue;
        const { text: got, raw } = run(streamOf(text, [cut, cut + 2]), []);
        expect(got, `delta cut at ${cut}`).toBe(want);
        expect(raw).not.toMatch(/\uff11\uff11|\u{1d7cf}|\u0661\u0661|1111|example/u);
      }
    },
  );

  it('never holds back half of a surrogate pair: an emoji before a held card leaves whole', () => {
    const text = 'Done \u{1f600}4111 1111 1111 1111 \u{1f600} ok';
    const cuts = [...text].map((_, i, chars) => chars.slice(0, i).join('').length).filter((c) => c > 0);
    for (const cut of cuts) {
      const { text: got, raw } = run(streamOf(text, [cut]), []);
      expect(got).toBe('Done \u{1f600}[CREDIT_CARD_1] \u{1f600} ok');
      // Every delta the client got is well-formed UTF-16 (JSON would carry a lone half as \ud83d).
      expect(raw).not.toMatch(/\\ud8|\\udc|\\udd|\\ude|\\udf/i);
    }
  });

  it('masks a PEM private key whole in a stream exactly as in a JSON answer, however its deltas are cut', () => {
    // Generated at test time: no key material in the repository.
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const text = `the key:\n${pem}\nkeep it safe.`;
    const want = expected(text);
    expect(want).toBe('the key:\n[PRIVATE_KEY_1]\n\nkeep it safe.');
    const lines = text.split('\n');
    const lineStarts = lines.map((_, i) => lines.slice(0, i).join('\n').length + (i > 0 ? 1 : 0));
    const cutSets = [
      lineStarts,
      lineStarts.map((c) => c + 5),
      [text.indexOf('-----END'), text.indexOf('-----END') + 9],
      Array.from({ length: 60 }, (_, i) => i * 17),
    ];
    for (const cuts of cutSets) {
      const { text: got, raw } = run(streamOf(text, cuts), []);
      expect(got).toBe(want);
      expect(raw).not.toContain('PRIVATE KEY-----');
    }
  });

  it('keeps event order, usage and pings, and adds no delay when a chunk ends on a break', () => {
    const { message, events } = run(streamOf('Hello there! How are you? ', [7, 13]), []);
    expect(events.filter((e, i) => e !== 'content_block_delta' || events[i - 1] !== 'content_block_delta')).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(message.content[0]!.text).toBe('Hello there! How are you? ');
    expect(message.usage.output_tokens).toBe(42);
    const masker = new SseStreamMasker(new MaskPlan(kit, ALL, Buffer.alloc(32)));
    masker.push(Buffer.from(streamOf('', []).split('event: content_block_stop')[0]!));
    const first = masker.push(
      Buffer.from(
        formatSseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: 'Hello! ' },
        }),
      ),
    );
    expect(first.client).toContain('"text":"Hello! "');
  });

  it('hands the output over as soon as the first delta is masked, before the rest of a burst', () => {
    const sse = streamOf('Hello there! How are you? Fine, thanks. ', [7, 13, 20, 30]);
    const early: string[] = [];
    const masker = new SseStreamMasker(new MaskPlan(kit, ALL, Buffer.alloc(32)), (out) => early.push(out.client));
    const rest = masker.push(Buffer.from(sse)).client + masker.end().client;
    expect(early).toHaveLength(1);
    expect(early[0]!.match(/event: content_block_delta/g)).toHaveLength(1);
    expect(early[0]).toMatch(/^event: message_start\n[\s\S]*"text":"Hello "[\s\S]*\n\n$/);
    expect(rest.startsWith('event: content_block_delta')).toBe(true);
    // Together, exactly what a masker without the hand-over produces.
    const plain = new SseStreamMasker(new MaskPlan(kit, ALL, Buffer.alloc(32)));
    expect(early[0]! + rest).toBe(plain.push(Buffer.from(sse)).client + plain.end().client);
  });

  it('lets pings through while text is held', () => {
    const masker = new SseStreamMasker(new MaskPlan(kit, ALL, Buffer.alloc(32)));
    masker.push(
      Buffer.from(
        formatSseEvent('content_block_start', {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'text', text: '' },
        }),
      ),
    );
    const held = masker.push(
      Buffer.from(
        formatSseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: 'key sk-ant-api03-Qw3' },
        }),
      ),
    );
    expect(held.client).not.toContain('Qw3');
    const ping = masker.push(Buffer.from(formatSseEvent('ping', { type: 'ping' })));
    expect(ping.client).toBe('event: ping\ndata: {"type":"ping"}\n\n');
  });

  it('masks tool input split across input_json_delta fragments and keeps it valid JSON', () => {
    const input = JSON.stringify({ to: SECRETS[1], note: 'line\nsk-ant-api03-' + 'Qw3'.repeat(31) });
    const ev = (t: string): string =>
      formatSseEvent('content_block_delta', {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: t },
      });
    const sse =
      formatSseEvent('content_block_start', {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 't', name: 'send', input: {} },
      }) +
      [...input.matchAll(/.{1,5}/gs)].map((m) => ev(m[0])).join('') +
      formatSseEvent('content_block_stop', { type: 'content_block_stop', index: 1 });
    const masker = new SseStreamMasker(new MaskPlan(kit, ALL, Buffer.alloc(32)));
    const out = masker.push(Buffer.from(sse)).client + masker.end().client;
    const json = [...out.matchAll(/"partial_json":"((?:[^"\\]|\\.)*)"/g)]
      .map((m) => JSON.parse(`"${m[1]}"`) as string)
      .join('');
    expect(JSON.parse(json)).toEqual({ to: '[EMAIL_1]', note: 'line\n[ANTHROPIC_API_KEY_1]' });
  });

  it(
    'masks tool input whose entities are spelled with JSON escapes (\\u0040, \\u0041…), ' +
      'wherever the fragments and bytes are cut',
    () => {
      // What a model could write to slip an address or key past a scanner that reads the raw JSON text.
      const partialJson =
        '{"to":"jane.roe\\u0040example.org","key":"\\u0041KIAQWERTYUI2345ABCD","note":"caf\\u00e9 \\ud83c\\udf0d ok"}';
      expect(JSON.parse(partialJson)).toEqual({ to: SECRETS[1], key: SECRETS[3], note: 'café 🌍 ok' });
      const ev = (t: string): string =>
        formatSseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: t },
        });
      for (let fragment = 1; fragment <= 9; fragment += 4) {
        const sse =
          formatSseEvent('content_block_start', {
            type: 'content_block_start',
            index: 1,
            content_block: { type: 'tool_use', id: 't', name: 'send', input: {} },
          }) +
          [...partialJson.matchAll(new RegExp(`.{1,${fragment}}`, 'gs'))].map((m) => ev(m[0])).join('') +
          formatSseEvent('content_block_stop', { type: 'content_block_stop', index: 1 });
        for (let cut = 1; cut < sse.length; cut += 11) {
          const plan = new MaskPlan(kit, ALL, Buffer.alloc(32));
          const masker = new SseStreamMasker(plan);
          const out =
            masker.push(Buffer.from(sse.slice(0, cut))).client +
            masker.push(Buffer.from(sse.slice(cut))).client +
            masker.end().client;
          const json = [...out.matchAll(/"partial_json":"((?:[^"\\]|\\.)*)"/g)]
            .map((m) => JSON.parse(`"${m[1]}"`) as string)
            .join('');
          // Numbered like the plain values: the placeholders name what the escapes spelled.
          expect(JSON.parse(json)).toEqual({
            to: '[EMAIL_1]',
            key: '[AWS_ACCESS_KEY_1]',
            note: 'caf\u00e9 \ud83c\udf0d ok',
          });
          expect(plan.replacer.replace('EMAIL', SECRETS[1]!)).toBe('[EMAIL_1]');
        }
      }
    },
  );

  it('never relays a malformed (not JSON) event and records it masked: a broken frame is no way around masking', () => {
    const broken =
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,' +
      `"delta":{"text":"${SECRETS[0]} ${SECRETS[1]}\n\n`;
    for (let cut = 1; cut < broken.length; cut += 7) {
      const plan = new MaskPlan(kit, ALL, Buffer.alloc(32));
      const masker = new SseStreamMasker(plan);
      const a = masker.push(Buffer.from(broken.slice(0, cut)));
      const b = masker.push(Buffer.from(broken.slice(cut)));
      const c = masker.end();
      const client = a.client + b.client + c.client;
      const record = a.record + b.record + c.record;
      expect(client).toBe('');
      expect(masker.broken).toBe('content_block_delta');
      expect(record).toContain('[ANTHROPIC_API_KEY_1] [EMAIL_1]');
      for (const out of [client, record])
        for (const secret of [SECRETS[0]!, SECRETS[1]!]) expect(out).not.toContain(secret.slice(-10));
      expect(plan.ledger.entries()).toContainEqual({ type: 'EMAIL', count: 1, path: 'response.malformed_event' });
    }
  });
});
