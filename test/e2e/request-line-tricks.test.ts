/**
 * No path, header or framing trick reaches an unconfigured upstream path or skips policy: only
 * the documented routes exist, the upstream path is rebuilt from the route, and malformed HTTP is
 * refused in Anthropic's shape. Raw sockets, because fetch would normalise the tricks away.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startHarness();
  token = await h.token(['engineering']);
});
afterAll(async () => h?.close());

const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

/** Sends raw bytes and returns the status line's code, the headers and the body. */
function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    // write, not end: a half-closed socket may be dropped before an async answer; the request says Connection: close.
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', rest = ''] = data.split('\r\n\r\n', 2);
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: rest });
    });
  });
}

function post(path: string, extraHeaders: string[] = [], payload = body): string {
  return [
    `POST ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    `Authorization: Bearer ${token}`,
    'Content-Type: application/json',
    'anthropic-version: 2023-06-01',
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(payload)}`,
    ...extraHeaders,
    '',
    payload,
  ].join('\r\n');
}

function upstreamPathsSince(before: number): string[] {
  return h.upstream.requests.slice(before).map((r) => r.path);
}

describe('routes and request lines', () => {
  it('only the documented methods: PUT /v1/messages is a 405 naming POST', async () => {
    const res = await raw(post('/v1/messages').replace(/^POST/, 'PUT'));
    expect(res.status).toBe(405);
    expect(res.headers.toLowerCase()).toContain('allow: post');
    expect(JSON.parse(res.body.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''))).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    });
  });

  for (const path of [
    '/v1/messages/../../v1/complete',
    '/v1/complete',
    '/v1/environments',
    '/%2e%2e/v1/messages',
    '/v1/files/../complete',
    '/v1/organizations',
    '//evil.example/v1/messages',
    '/c/..%2fanthropic/v1/messages',
  ]) {
    it(`path ${path} reaches nothing upstream but the rebuilt route`, async () => {
      const before = h.upstream.requests.length;
      const res = await raw(post(path));
      expect([200, 404]).toContain(res.status);
      for (const seen of upstreamPathsSince(before)) expect(seen).toBe('/v1/messages');
    });
  }

  it('an absolute-URI request line cannot choose the upstream host', async () => {
    const before = h.upstream.requests.length;
    const res = await raw(post('http://evil.example/v1/messages'));
    expect(res.status).toBeLessThan(500);
    for (const seen of upstreamPathsSince(before)) expect(seen).toBe('/v1/messages');
  });

  it('Host and X-Forwarded-* spoofing change nothing upstream', async () => {
    const before = h.upstream.requests.length;
    const res = await raw(
      post('/v1/messages', [
        'X-Forwarded-Host: evil.example',
        'X-Forwarded-Proto: https',
        'Forwarded: host=evil.example',
      ]).replace('Host: 127.0.0.1', 'Host: evil.example'),
    );
    expect(res.status).toBe(200);
    const seen = h.upstream.requests.slice(before)[0]!;
    expect(seen.headers.host).toBe(new URL(h.upstream.url).host);
    expect(seen.headers['x-forwarded-host']).toBeUndefined();
    expect(seen.headers['forwarded']).toBeUndefined();
  });

  it('hop-by-hop smuggling (Connection naming a header) does not carry a caller key upstream', async () => {
    const before = h.upstream.requests.length;
    // A Claude API key beside the Sluice token is refused outright: nothing goes upstream at all.
    const refused = await raw(post('/v1/messages', ['X-Api-Key: sk-ant-smuggled', 'Connection: x-api-key']));
    expect(refused.status).toBe(401);
    expect(h.upstream.requests.length).toBe(before);
    // The same token as x-api-key, named in Connection: the call goes, with only the connection's key upstream.
    await raw(post('/v1/messages', [`X-Api-Key: ${token}`, 'Connection: x-api-key']));
    const seen = h.upstream.requests.slice(before)[0]!;
    expect(seen.headers['x-api-key']).toBe(h.upstreamKey);
  });
});

describe('framing tricks are refused before any route runs', () => {
  it('duplicate Content-Length', async () => {
    const before = h.upstream.requests.length;
    const res = await raw(post('/v1/messages', ['Content-Length: 5']));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(h.upstream.requests.length).toBe(before);
  });

  it('Content-Length together with Transfer-Encoding: chunked', async () => {
    const before = h.upstream.requests.length;
    const res = await raw(post('/v1/messages', ['Transfer-Encoding: chunked']));
    expect(res.status).toBe(400);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('an obfuscated Transfer-Encoding', async () => {
    const res = await raw(post('/v1/messages', ['Transfer-Encoding: xchunked']).replace(/Content-Length: \d+\r\n/, ''));
    expect(res.status).toBe(400);
  });
});
