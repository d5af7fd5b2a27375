/**
 * Unicode evasion through the whole gateway with the shipped policy: an e-mail address spelled
 * with zero-width and no-break characters is masked before it leaves and never written raw to the
 * audit, and so are cards in other scripts' digits; a key hidden with zero-width characters in a
 * streamed answer is masked however its deltas are cut; a blocked keyword spelled with a
 * look-alike letter, odd spaces, or split across two content blocks is denied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  // Small deltas: an entity in a streamed answer arrives in many pieces.
  h = await startHarness({ mock: { chunkChars: 3 } });
});
afterAll(async () => h?.close());

async function send(content: unknown): Promise<{ status: number; message: string }> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token(['engineering'])}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content }] }),
  });
  const body = (await res.json()) as { error?: { message: string } };
  return { status: res.status, message: body.error?.message ?? '' };
}

describe('Unicode evasion through the gateway', () => {
  it('an e-mail with zero-width and no-break characters is masked upstream and absent from the audit', async () => {
    const hidden = 'jane.roe\u200b@\u00a0example\u2060.org';
    expect((await send(`write to ${hidden} please`)).status).toBe(200);
    const sent = JSON.stringify(h.upstream.requests.at(-1)?.body);
    expect(sent).toContain('write to [EMAIL_1] please');
    expect(sent).not.toContain('example');
    const audit = JSON.stringify(await h.auditEvents());
    expect(audit).not.toContain('jane.roe');
  });

  const evasions: Array<[string, unknown]> = [
    ['a Cyrillic look-alike letter', 'the Proj\u0435ct Nightingale plan'],
    ['a no-break space and a zero-width space', 'the project\u00a0night\u200bingale plan'],
    [
      'a split across two text blocks',
      [
        { type: 'text', text: 'the project night' },
        { type: 'text', text: 'ingale plan' },
      ],
    ],
  ];
  for (const [what, content] of evasions) {
    it(`a blocked keyword with ${what} is denied`, async () => {
      const before = h.upstream.requests.length;
      const { status, message } = await send(content);
      expect(status).toBe(403);
      expect(message).toMatch(/nightingale/i);
      expect(h.upstream.requests.length).toBe(before);
    });
  }

  it(
    'cards in Arabic-Indic digits with a word joiner and in full-width digits with no-break spaces ' +
      'are masked upstream',
    async () => {
      const arabic =
        '\u0664\u0661\u2060\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661';
      const fullWidth = ['\uff14\uff11\uff11\uff11', ...Array<string>(3).fill('\uff11'.repeat(4))].join('\u00a0');
      expect((await send(`cards ${arabic} and ${fullWidth}.`)).status).toBe(200);
      const sent = JSON.stringify(h.upstream.requests.at(-1)?.body);
      expect(sent).toContain('cards [CREDIT_CARD_1] and [CREDIT_CARD_2].');
      expect(sent).not.toMatch(/\u0661|\uff11/u);
    },
  );

  it('a key hidden with zero-width characters in a streamed answer is masked across its many deltas', async () => {
    // A look-alike test key (right shape, not a real key), a zero-width space after every third character.
    const key = `sk-ant-api03-${'Zx9\u200b'.repeat(30)}Q7`;
    const client = await h.client(['engineering']);
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      messages: [{ role: 'user', content: `key ${key} ok` }],
    });
    let streamed = '';
    stream.on('text', (t) => (streamed += t));
    await stream.finalMessage();
    // Engineering masks credentials in answers: the key went upstream as written and came back in 3-character deltas.
    expect(JSON.stringify(h.upstream.requests.at(-1)?.body)).toContain('Zx9\u200bZx9');
    expect(streamed).toBe('[echo from mock-claude] key [ANTHROPIC_API_KEY_1] ok');
    expect(JSON.stringify(await h.auditEvents())).not.toContain('Zx9');
  });
});
