/**
 * Masking end to end through the official SDK. The mock upstream echoes the last user text, so
 * what the prompt carried comes back in the answer: request masking shows in what the upstream
 * received, response masking and restore in what the SDK returns, on JSON and on streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEventBody, ExchangeRecordBody } from '../../gateway/audit/events.ts';
import { MOCK_SEARCH_URL } from '../../gateway/dev/mock-claude-responses.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const EMAIL = 'jane.roe@example.org';
const CARD = '4111 1111 1111 1111';
// A look-alike test key (right shape, not a real key).
const ANT_KEY = `sk-ant-api03-${'Zx9'.repeat(30)}Q7`;
const PEM =
  '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+\n-----END PRIVATE KEY-----';
const MODEL = 'claude-sonnet-4-5';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ mock: { chunkChars: 3 } });
});
afterAll(async () => {
  await h.close();
});

const upstreamText = (): string => JSON.stringify(h.upstream.requests.at(-1)?.body);
async function lastEvents(): Promise<{ decision: DecisionEventBody; session: ExchangeRecordBody }> {
  const events = await h.auditEvents();
  return {
    decision: events.filter((e) => e.kind === 'decision').at(-1) as DecisionEventBody,
    session: events.filter((e) => e.kind === 'exchange').at(-1) as ExchangeRecordBody,
  };
}
const textOf = (msg: { content: Array<{ type: string; text?: string }> }): string =>
  msg.content.map((b) => b.text ?? '').join('');

describe('masking through the SDK', () => {
  it(
    "masks the prompt before it leaves, restores the caller's own values in the answer, " +
      'and audits only masked content',
    async () => {
      const client = await h.client(['engineering']);
      const msg = await client.messages.create({
        model: MODEL,
        max_tokens: 256,
        messages: [{ role: 'user', content: `Email ${EMAIL}, card ${CARD}, same ${EMAIL}.` }],
      });
      expect(upstreamText()).not.toContain(EMAIL);
      expect(upstreamText()).not.toContain('4111');
      expect(upstreamText()).toContain('Email [EMAIL_1], card [CREDIT_CARD_1], same [EMAIL_1].');
      expect(textOf(msg)).toContain(`Email ${EMAIL}, card ${CARD}, same ${EMAIL}.`);

      const { decision, session } = await lastEvents();
      expect(decision.outcome).toBe('mask');
      expect(decision.masks_applied).toEqual([
        { type: 'EMAIL', count: 2, path: 'request.messages[0].content' },
        { type: 'CREDIT_CARD', count: 1, path: 'request.messages[0].content' },
      ]);
      expect(decision.masked).toEqual(['/input/request/text']);
      const logged = JSON.stringify([decision, session]);
      expect(logged).not.toContain(EMAIL);
      expect(logged).not.toContain(CARD);
      expect((decision.input as { request: { findings: unknown } }).request.findings).toEqual({
        EMAIL: 2,
        CREDIT_CARD: 1,
      });
    },
  );

  it('masks credentials in a JSON answer', async () => {
    const client = await h.client(['engineering']);
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: `my key is ${ANT_KEY} ok` }],
    });
    expect(textOf(msg)).toContain('my key is [ANTHROPIC_API_KEY_1] ok');
    expect(textOf(msg)).not.toContain('Zx9Zx9');
    const { decision, session } = await lastEvents();
    // Decided (and written) before the answer existed: the answer's masks are in the exchange record.
    expect(decision.masks_applied).toEqual([]);
    expect(session.masks_applied).toEqual([{ type: 'ANTHROPIC_API_KEY', count: 1, path: 'response.content[0].text' }]);
    expect(session.outcome).toBe('mask');
    expect(JSON.stringify(session)).not.toContain('Zx9Zx9');
  });

  it(
    'lets an unmasked entity through to the caller yet audits only its type, beside a masked one, ' +
      'in a JSON answer',
    async () => {
      const client = await h.client(['engineering']);
      const msg = await client.messages.create({
        model: MODEL,
        max_tokens: 256,
        messages: [{ role: 'user', content: `host 10.20.30.40 key ${ANT_KEY}` }],
      });
      expect(textOf(msg)).toContain('host 10.20.30.40 key [ANTHROPIC_API_KEY_1]');
      const { session } = await lastEvents();
      const recorded = JSON.stringify(session.response);
      expect(recorded).toContain('host [IP_ADDRESS] key [ANTHROPIC_API_KEY_1]');
      expect(recorded).not.toContain('10.20.30.40');
    },
  );

  it(
    'masks thinking like text but never restores into it (it is signed), and audits it redacted, ' +
      'on JSON and on streams',
    async () => {
      const client = await h.client(['engineering']);
      const request = {
        model: MODEL,
        max_tokens: 2048,
        thinking: { type: 'enabled' as const, budget_tokens: 1024 },
        messages: [{ role: 'user' as const, content: `host 10.20.30.40 key ${ANT_KEY} mail ${EMAIL}` }],
      };
      // Each answer checked before the next call, so its own audit events are the last ones.
      for (const call of [
        () => client.messages.create(request),
        () => client.messages.stream(request).finalMessage(),
      ]) {
        const msg = await call();
        const thinking = msg.content[0];
        expect(thinking?.type).toBe('thinking');
        // The key the model echoed is masked (a response type for engineering); the IP, let through, stays.
        // The e-mail placeholder is restored in the text but not in the thinking: restoring would break its signature.
        expect(thinking?.type === 'thinking' && thinking.thinking).toBe(
          '[mock-claude thinking] The user wrote: host 10.20.30.40 key [ANTHROPIC_API_KEY_1] mail [EMAIL_1]',
        );
        expect(thinking?.type === 'thinking' && thinking.signature).toMatch(/^[A-Za-z0-9+/]{40,}={0,2}$/);
        expect(textOf(msg)).toBe(`[echo from mock-claude] host 10.20.30.40 key [ANTHROPIC_API_KEY_1] mail ${EMAIL}`);
        const { session } = await lastEvents();
        expect(session.masks_applied).toContainEqual({
          type: 'ANTHROPIC_API_KEY',
          count: 1,
          path: 'response.content[0].thinking',
        });
        // The audit keeps only the type of what the caller may see, in the thinking as in the text.
        const recorded = JSON.stringify(session.response);
        expect(recorded).not.toContain('10.20.30.40');
        expect(recorded).toContain('The user wrote: host [IP_ADDRESS] key [ANTHROPIC_API_KEY_1] mail [EMAIL_1]');
      }
    },
  );

  it(
    'masks what a server tool brought back and what the answer cites (web search), on JSON and on streams, ' +
      'leaving the encrypted parts intact',
    async () => {
      const client = await h.client(['engineering']);
      const request = {
        model: MODEL,
        max_tokens: 1024,
        tools: [{ type: 'web_search_20250305' as const, name: 'web_search' as const, max_uses: 1 }],
        messages: [{ role: 'user' as const, content: `find ${ANT_KEY} docs` }],
      };
      const calls = [() => client.messages.create(request), () => client.messages.stream(request).finalMessage()];
      // A streamed tool input is masked as its JSON text arrives, so its ledger entry names the whole input.
      const queryPaths = ['response.content[0].input.query', 'response.content[0].input'];
      for (const [i, call] of calls.entries()) {
        const msg = await call();
        // Engineering masks credentials in answers only: the key went upstream and came back in the search, its
        // citation and the echo.
        expect(upstreamText()).toContain(ANT_KEY);
        expect(JSON.stringify(msg)).not.toContain('Zx9Zx9');
        const [search, result, answer] = msg.content;
        expect(search?.type === 'server_tool_use' && search.input).toEqual({
          query: 'find [ANTHROPIC_API_KEY_1] docs',
        });
        const page =
          result?.type === 'web_search_tool_result' && Array.isArray(result.content) ? result.content[0] : undefined;
        expect(page?.title).toBe('Search result: find [ANTHROPIC_API_KEY_1] docs');
        expect(page?.url).toBe(MOCK_SEARCH_URL);
        // Opaque: the API wants these back byte for byte in the next turn.
        expect(page?.encrypted_content).toMatch(/^[A-Za-z0-9+/]{128}$/);
        expect(result?.type === 'web_search_tool_result' && result.tool_use_id).toBe(
          search?.type === 'server_tool_use' && search.id,
        );
        const citation = answer?.type === 'text' ? answer.citations?.[0] : undefined;
        expect(citation?.type === 'web_search_result_location' && citation.cited_text).toBe(
          'find [ANTHROPIC_API_KEY_1] docs',
        );
        expect(citation?.type === 'web_search_result_location' && citation.encrypted_index).toMatch(
          /^[A-Za-z0-9+/]{32}$/,
        );
        expect(textOf(msg)).toBe('[echo from mock-claude] find [ANTHROPIC_API_KEY_1] docs');
        expect(msg.usage.server_tool_use?.web_search_requests).toBe(1);
        const { session } = await lastEvents();
        expect(session.masks_applied).toEqual(
          expect.arrayContaining([
            { type: 'ANTHROPIC_API_KEY', count: 1, path: queryPaths[i] },
            { type: 'ANTHROPIC_API_KEY', count: 1, path: 'response.content[1].content[0].title' },
            { type: 'ANTHROPIC_API_KEY', count: 1, path: 'response.content[2].citations[0].cited_text' },
          ]),
        );
        expect(JSON.stringify(session)).not.toContain('Zx9Zx9');
      }
    },
  );

  it('masks credentials split across many small text deltas of a stream, keeping the SDK happy', async () => {
    const client = await h.client(['engineering']);
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: `key ${ANT_KEY} and mail ${EMAIL}!` }],
    });
    let streamed = '';
    stream.on('text', (t) => (streamed += t));
    const final = await stream.finalMessage();
    expect(streamed).toBe(`[echo from mock-claude] key [ANTHROPIC_API_KEY_1] and mail ${EMAIL}!`);
    expect(textOf(final)).toBe(streamed);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(final.stop_reason).toBe('end_turn');
    const { decision, session } = await lastEvents();
    expect(decision.outcome).toBe('mask');
    const recorded = JSON.stringify(session.response);
    expect(recorded).not.toContain('Zx9Zx9');
    expect(recorded).not.toContain(EMAIL); // the record keeps the masked stream, before restore
    expect(recorded).toContain('[EMAIL_1]');
    expect(session.response?.events?.map((e) => e.event)).toContain('ping');
  });

  it('masks everything for ci without restoring, on streams', async () => {
    const client = await h.client(['ci']);
    const stream = client.messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 256,
      messages: [{ role: 'user', content: `reach ${EMAIL} from 10.1.2.3` }],
    });
    const final = await stream.finalMessage();
    expect(textOf(final)).toBe('[echo from mock-claude] reach [EMAIL_1] from [IP_ADDRESS_1]');
    expect(upstreamText()).not.toContain(EMAIL);
  });

  it('denies a prompt carrying a private key outright; nothing is forwarded', async () => {
    const client = await h.client(['engineering']);
    const before = h.upstream.requests.length;
    await expect(
      client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: `here:\n${PEM}` }] }),
    ).rejects.toMatchObject({ status: 403 });
    expect(h.upstream.requests.length).toBe(before);
    const { decision, session } = await lastEvents();
    expect(decision.outcome).toBe('deny');
    expect(JSON.stringify([decision, session])).not.toContain('MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8');
    expect(JSON.stringify(session.request)).toContain('[PRIVATE_KEY]');
  });

  it('leaves a prompt without entities byte for byte', async () => {
    const client = await h.client(['engineering']);
    await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'version 1.2.3 shipped at 10:15:30, order 1234-5678' }],
    });
    const { decision } = await lastEvents();
    expect(decision.outcome).toBe('allow');
    expect(decision.masks_applied).toEqual([]);
    const { session } = await lastEvents();
    expect(session).toMatchObject({ outcome: 'allow', masks_applied: [] });
    expect(upstreamText()).toContain('version 1.2.3 shipped at 10:15:30, order 1234-5678');
  });

  it(
    'numbers placeholders per JIT session: the same value keeps its number on later calls, ' +
      'another caller starts afresh',
    async () => {
      const carol = await h.client(['engineering'], 'carol');
      await carol.messages.create({
        model: MODEL,
        max_tokens: 64,
        messages: [{ role: 'user', content: 'write to first.person@example.net' }],
      });
      expect(upstreamText()).toContain('[EMAIL_1]');
      await carol.messages.create({
        model: MODEL,
        max_tokens: 64,
        messages: [{ role: 'user', content: 'cc second.person@example.net and first.person@example.net' }],
      });
      expect(upstreamText()).toContain('cc [EMAIL_2] and [EMAIL_1]');
      const dave = await h.client(['engineering'], 'dave');
      await dave.messages.create({
        model: MODEL,
        max_tokens: 64,
        messages: [{ role: 'user', content: 'cc second.person@example.net' }],
      });
      expect(upstreamText()).toContain('cc [EMAIL_1]');
    },
  );
});
