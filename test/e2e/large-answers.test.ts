/**
 * Upstream answers are bounded (limits.responseBytes): a larger one ends the call with a coded
 * error and the upstream call is cancelled, never buffered; the audit stores at most
 * audit.maxContentBytes of content per event, with a marker carrying the whole content's sha256.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TruncatedContent } from '../../gateway/audit/content-bound.ts';
import type { AuditEvent, DecisionEventBody, ExchangeRecordBody } from '../../gateway/audit/events.ts';
import type { LargeAnswerEnd } from '../../gateway/dev/mock-claude.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const MiB = 1024 * 1024;
const RESPONSE_BYTES = MiB;
const AUDIT_CONTENT_BYTES = 64 * 1024;
const TOO_LARGE = 'SLUICE_ERR_UPSTREAM_TOO_LARGE';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ responseBytes: RESPONSE_BYTES, auditMaxContentBytes: AUDIT_CONTENT_BYTES });
});
afterEach(() => h.upstream.setFault(undefined));
afterAll(async () => h?.close());

const body = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'write a lot' }] };

async function post(payload: unknown, groups = ['engineering']): Promise<Response> {
  return fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token(groups)}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify(payload),
  });
}

/** The mock's report on its large answer, listened for before the call so it cannot be missed. */
function largeAnswerEnd(): Promise<LargeAnswerEnd> {
  return once(h.upstream, 'large-answer').then(([end]) => end as LargeAnswerEnd);
}

/** The last exchange's audit events and their lines' sizes. */
interface LastExchange {
  readonly decision: DecisionEventBody;
  readonly session: ExchangeRecordBody;
  /** The two events' line sizes in bytes. */
  readonly lineBytes: number[];
}

async function lastExchange(): Promise<LastExchange> {
  const events: AuditEvent[] = await h.auditEvents();
  const decision = events.filter((e) => e.kind === 'decision').at(-1) as AuditEvent & DecisionEventBody;
  const session = events.filter((e) => e.kind === 'exchange').at(-1) as AuditEvent & ExchangeRecordBody;
  expect(session.decision_id).toBe(decision.decision_id);
  return { decision, session, lineBytes: [decision, session].map((e) => Buffer.byteLength(JSON.stringify(e))) };
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const HEX64 = expect.stringMatching(/^[0-9a-f]{64}$/);
/** The marker expected for `whole`, the masked content as the caller got it. */
const marker = (whole: string): TruncatedContent => {
  return {
    truncated: true,
    bytes: Buffer.byteLength(whole),
    sha256: sha256(whole),
    head: expect.any(String) as string,
  };
};

describe('answers over limits.responseBytes', () => {
  for (const contentLength of [true, false]) {
    const how = contentLength ? 'declaring its content-length' : 'sent chunked';
    it(`a JSON answer ${how} is a coded 502, its upstream cancelled, and audited`, async () => {
      h.upstream.setFault({ kind: 'large-answer', bytes: 64 * MiB, contentLength });
      const ended = largeAnswerEnd();
      const res = await post(body);
      expect(res.status).toBe(502);
      const json = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(json).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      expect(json.error.message).toMatch(/limits\.responseBytes \(1048576 bytes\)/);
      const end = await ended;
      expect(end.complete).toBe(false);
      // Read no further than the limit: what the upstream got onto the wire stays far below the 64 MiB answer.
      expect(end.bytesWritten).toBeLessThan(16 * MiB);
      const { decision, session } = await lastExchange();
      expect(decision.error).toBeUndefined(); // decided and written before the answer came
      expect(session.error?.code).toBe(TOO_LARGE);
      expect(session.response).toMatchObject({
        status: 502,
        body: null,
        error: { type: 'api_error', code: TOO_LARGE },
      });
    });
  }

  it('a stream ends with an SSE error event, its upstream cancelled, and audited', async () => {
    h.upstream.setFault({ kind: 'large-answer', bytes: 64 * MiB });
    const ended = largeAnswerEnd();
    const res = await post({ ...body, stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^event: message_start\n/);
    const last = text.trimEnd().split('\n\n').at(-1)!;
    expect(last).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(last.split('\ndata: ')[1]!)).toEqual({
      type: 'error',
      error: { type: 'api_error', message: expect.stringMatching(/responseBytes \(1048576 bytes\); stream ended$/) },
    });
    expect(text).not.toMatch(/event: message_stop/);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(RESPONSE_BYTES + 1024);
    const end = await ended;
    expect(end.complete).toBe(false);
    expect(end.bytesWritten).toBeLessThan(16 * MiB);
    const { decision, session } = await lastExchange();
    expect(decision.error).toBeUndefined();
    expect(session.error?.code).toBe(TOO_LARGE);
    expect(session.response).toMatchObject({
      status: 200,
      stream: true,
      error: { type: 'api_error', code: TOO_LARGE },
    });
  });
});

// admins: a group without response masking, so the upstream's bytes are the caller's bytes.
describe('answers under limits.responseBytes', () => {
  it('a JSON answer passes untouched', async () => {
    h.upstream.setFault({ kind: 'large-answer', bytes: RESPONSE_BYTES - 4096, contentLength: false });
    const ended = largeAnswerEnd();
    const res = await post(body, ['admins']);
    expect(res.status).toBe(200);
    const raw = Buffer.from(await res.arrayBuffer());
    expect(raw.length).toBe((await ended).bytesWritten);
    expect((await ended).complete).toBe(true);
    const message = JSON.parse(raw.toString('utf8')) as { content: Array<{ text: string }> };
    expect(message.content[0]!.text).toMatch(/^(the quick brown fox .+? very long answer\. )+/);
  });

  it('a stream passes untouched to its end', async () => {
    const stream = { ...body, stream: true };
    h.upstream.setFault({ kind: 'large-answer', bytes: RESPONSE_BYTES - 64 * 1024 });
    // The same answer straight from the mock, to compare with (its filler is deterministic).
    const direct = await fetch(`${h.upstream.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': h.upstreamKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify(stream),
    });
    const expected = textOf(await direct.text());
    const ended = largeAnswerEnd();
    const text = await (await post(stream, ['admins'])).text();
    expect((await ended).complete).toBe(true);
    expect(textOf(text)).toBe(expected);
    expect(expected.length).toBeGreaterThan(RESPONSE_BYTES - 128 * 1024);
    expect(text).toMatch(/event: message_stop\ndata: \{"type":"message_stop"\}\n\n$/);
    expect(text).not.toMatch(/event: error/);
  });
});

/** The answer's text from an SSE stream: its text_delta pieces joined (the gateway may cut deltas differently). */
function textOf(sse: string): string {
  return sse
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as { delta?: { type: string; text: string } })
    .map((data) => (data.delta?.type === 'text_delta' ? data.delta.text : ''))
    .join('');
}

describe('audit.maxContentBytes', () => {
  it('a large answer is stored as a bounded head with its size and sha256', async () => {
    h.upstream.setFault({ kind: 'large-answer', bytes: 512 * 1024 });
    const res = await post(body);
    const message = (await res.json()) as { content: unknown; usage: unknown };
    const { session, lineBytes } = await lastExchange();
    const stored = session.response!.body as { content: TruncatedContent; usage: unknown };
    const whole = JSON.stringify(message.content);
    expect(stored.content).toEqual(marker(whole));
    expect(whole.startsWith(stored.content.head)).toBe(true);
    expect(stored.content.head.length).toBeGreaterThan(AUDIT_CONTENT_BYTES / 2);
    expect(stored.usage).toEqual(message.usage); // small fields stay whole
    expect(Math.max(...lineBytes)).toBeLessThan(AUDIT_CONTENT_BYTES + 16 * 1024);
  });

  it('a streamed answer is bounded the same way', async () => {
    h.upstream.setFault({ kind: 'large-answer', bytes: 512 * 1024 });
    await (await post({ ...body, stream: true })).text();
    const { session, lineBytes } = await lastExchange();
    const content = (session.response!.body as { content: TruncatedContent }).content;
    expect(content).toMatchObject({ truncated: true, bytes: expect.any(Number), sha256: HEX64 });
    expect(content.bytes).toBeGreaterThan(400 * 1024);
    expect(Math.max(...lineBytes)).toBeLessThan(AUDIT_CONTENT_BYTES + 16 * 1024);
  });

  it('a large prompt is bounded in the session record and in the decision event', async () => {
    const messages = [{ role: 'user', content: 'an unremarkable sentence for the record. '.repeat(5000) }];
    const res = await post({ ...body, messages }, ['admins']);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const { decision, session, lineBytes } = await lastExchange();
    const request = session.request as { model: string; messages: TruncatedContent };
    expect(request.model).toBe('claude-haiku-4-5');
    const whole = JSON.stringify(messages);
    expect(request.messages).toEqual(marker(whole));
    expect(whole.startsWith(request.messages.head)).toBe(true);
    // The decision carries no content: the prompt's digest and length stand in for it.
    const text = decision.input!.request.text;
    expect(text).toMatchObject({ sha256: HEX64, findings: {} });
    expect(text.length).toBe(Buffer.byteLength(messages[0]!.content));
    expect(decision.erased).toEqual(['/input/request/text']);
    expect(Math.max(...lineBytes)).toBeLessThan(AUDIT_CONTENT_BYTES + 16 * 1024);
  });

  it('content within the bound is stored whole', async () => {
    const res = await post(body);
    const message = (await res.json()) as { content: unknown };
    const { session } = await lastExchange();
    expect(session.request).toEqual(body);
    expect((session.response!.body as { content: unknown }).content).toEqual(message.content);
  });
});
