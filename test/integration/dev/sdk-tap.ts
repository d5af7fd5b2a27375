/** Helpers for driving mock-claude with the official SDK while seeing the raw bytes it received. */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { SseRecorder } from '../../../gateway/relay/sse-recorder.ts';

export const API_KEY = 'sk-ant-mock-test';
/** Not on the SDK's deprecation list, so runs stay free of its console warnings. */
export const MODEL = 'claude-haiku-4-5';

/** A plain SDK client for `baseURL` with retries off, so each fault surfaces once. */
export function sdkClient(baseURL: string, opts: { apiKey?: string; timeout?: number } = {}): Anthropic {
  return new Anthropic({ baseURL, apiKey: API_KEY, maxRetries: 0, ...opts });
}

/**
 * One mock Claude for a test file: started before its tests, its fault cleared after each, closed
 * at the end. `client` is an SDK client for it (see sdkClient).
 */
export function useMockClaude(): {
  readonly mock: MockClaude;
  client(opts?: { apiKey?: string; timeout?: number }): Anthropic;
} {
  let mock: MockClaude | undefined;
  beforeAll(async () => {
    mock = await MockClaude.start({ apiKey: API_KEY });
  });
  afterEach(() => mock?.setFault(undefined));
  afterAll(async () => mock?.close());
  return {
    get mock() {
      if (!mock) throw new Error('mock Claude is not started yet (use it inside a test)');
      return mock;
    },
    client: (opts = {}) => sdkClient(mock!.url, opts),
  };
}

/** An SDK client whose fetch keeps a copy of every response body, so tests can see the raw SSE bytes. */
export function tappedClient(
  baseURL: string,
  opts: { logLevel?: 'off' } = {},
): { client: Anthropic; raw: () => Promise<Buffer> } {
  const copies: Promise<ArrayBuffer>[] = [];
  const tap = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await fetch(input, init);
    const copy = res.clone().arrayBuffer();
    copy.catch(() => {}); // a test that does not read the copy must not leave an unhandled rejection
    copies.push(copy);
    return res;
  };
  const client = new Anthropic({ baseURL, apiKey: API_KEY, maxRetries: 0, fetch: tap, ...opts });
  return { client, raw: async () => Buffer.from(await copies.at(-1)!) };
}

/** A finished recorder fed `raw` in one piece. */
export function recorded(raw: Buffer): SseRecorder {
  const recorder = new SseRecorder();
  recorder.push(raw);
  recorder.end();
  return recorder;
}

/**
 * The SDK's Message minus `parsed_output`, a field its structured-output helper adds (null here) that is not on the
 * wire.
 */
export function wire(message: Anthropic.Message): unknown {
  const { parsed_output: _, ...rest } = message as Anthropic.Message & { parsed_output?: unknown };
  return rest;
}

/** A one-user-turn Messages request. */
export const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 256,
  messages: [{ role: 'user' as const, content }],
  ...extra,
});
