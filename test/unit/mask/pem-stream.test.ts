/**
 * A private key streamed in small deltas is masked whole, exactly as the same answer is masked
 * as JSON: not one line of it, its END line included, reaches the caller, wherever the deltas
 * are cut (inside BEGIN, in the body, inside the dashes or words of the END line). Keys are made
 * at test time: no key material is committed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildDetectorKit } from '../../../gateway/inspect/detector-kit.ts';
import { MaskPlan } from '../../../gateway/mask/mask-plan.ts';
import { maskResponseBody } from '../../../gateway/mask/mask-response.ts';
import { SseStreamMasker } from '../../../gateway/relay/sse-stream-masker.ts';
import type { MaskDirective } from '../../../gateway/policy/decision.ts';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';
import { formatSseEvent } from '../../../gateway/relay/sse-writer.ts';

const kit = buildDetectorKit({});
const CREDENTIALS: MaskDirective = { request: [], response: ['PRIVATE_KEY'], style: 'placeholder', restore: false };

const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const KEYS: Record<string, string> = {
  'PKCS#8': rsa.export({ type: 'pkcs8', format: 'pem' }) as string,
  'PKCS#1 RSA': rsa.export({ type: 'pkcs1', format: 'pem' }) as string,
  'SEC1 EC': ec.export({ type: 'sec1', format: 'pem' }) as string,
  // Legacy encrypted PEM: Proc-Type and DEK-Info headers, whose dashes end no block.
  'encrypted PKCS#1': rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'test' }) as string,
};

const answerWith = (pem: string): string =>
  `Here is the key you asked for:\n\n${pem.trimEnd()}\n\nStore it in your vault.`;
const USAGE = { input_tokens: 5, output_tokens: 9 };
const MESSAGE = { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', usage: USAGE };

/** The answer as a Messages stream whose text arrives in the given pieces. */
function sseOf(pieces: readonly string[]): string {
  const ev = formatSseEvent;
  const message = { ...MESSAGE, content: [], stop_reason: null };
  const delta = (text: string): string =>
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  return [
    ev('message_start', { type: 'message_start', message }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ...pieces.map(delta),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: USAGE }),
    ev('message_stop', { type: 'message_stop' }),
  ].join('');
}

/** What the caller reads of a streamed answer (one event per push: every delta is judged on its own). */
function streamed(pieces: readonly string[]): string {
  const masker = new SseStreamMasker(new MaskPlan(kit, CREDENTIALS, Buffer.alloc(32)));
  const recorder = new SseRecorder();
  for (const frame of sseOf(pieces).split(/(?<=\n\n)/)) {
    recorder.push(Buffer.from(masker.push(Buffer.from(frame)).client));
  }
  recorder.push(Buffer.from(masker.end().client));
  recorder.end();
  return (recorder.reconstruct() as { content: Array<{ text: string }> }).content[0]!.text;
}

/** What the caller reads of the same answer returned as JSON. */
function json(text: string): string {
  const content = [{ type: 'text', text }];
  const body = { ...MESSAGE, content, stop_reason: 'end_turn' };
  const { client } = maskResponseBody(body, new MaskPlan(kit, CREDENTIALS, Buffer.alloc(32)));
  return (client as { content: Array<{ text: string }> }).content[0]!.text;
}

/** `text` cut at `cuts` (sorted, deduplicated offsets). */
function cutAt(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < text.length))].sort((a, b) => a - b);
  return [0, ...points].map((from, i) => text.slice(from, points[i] ?? text.length));
}

/** Every `size` characters. */
const every = (text: string, size: number): string[] =>
  cutAt(
    text,
    Array.from({ length: Math.ceil(text.length / size) }, (_, i) => i * size),
  );

describe('private keys in a stream', () => {
  for (const [name, pem] of Object.entries(KEYS)) {
    const text = answerWith(pem);

    it(`${name}: the JSON answer masks the block whole`, () => {
      expect(json(text)).toBe('Here is the key you asked for:\n\n[PRIVATE_KEY_1]\n\nStore it in your vault.');
    });

    it(`${name}: streamed in deltas of 1, 2, 3, 5, 7 and 64 characters, masked as in JSON`, () => {
      for (const size of [1, 2, 3, 5, 7, 64]) {
        expect(streamed(every(text, size)), `deltas of ${size}`).toBe(json(text));
      }
    });

    it(`${name}: one cut anywhere in the BEGIN and END lines, masked as in JSON`, () => {
      const begin = text.indexOf('-----BEGIN');
      const endLine = text.indexOf('-----END');
      const endOfBlock = text.indexOf('-----', endLine + 5) + 5;
      const beginCuts = Array.from({ length: 40 }, (_, i) => begin + i);
      const endCuts = Array.from({ length: endOfBlock - endLine + 2 }, (_, i) => endLine - 1 + i);
      for (const cut of [...beginCuts, ...endCuts]) {
        expect(streamed(cutAt(text, [cut])), `cut at ${cut}`).toBe(json(text));
      }
      // Two cuts: one in the body, one in the END line.
      for (const cut of endCuts) {
        expect(streamed(cutAt(text, [begin + 60, cut])), `cuts at body and ${cut}`).toBe(json(text));
      }
    });

    it(`${name}: no line of the key reaches the caller`, () => {
      const out = streamed(every(text, 3));
      for (const line of pem
        .trim()
        .split('\n')
        .filter((l) => l.length > 0)) {
        expect(out, line.slice(0, 12)).not.toContain(line);
      }
      expect(out).not.toContain('-----');
    });
  }
});
