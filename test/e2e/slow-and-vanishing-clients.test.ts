/**
 * Slow and hostile clients cost bounded time and memory and never stop the gateway serving
 * others: slowloris headers and bodies are cut off with 408, and a caller that leaves mid-stream
 * has its upstream call cancelled and its session recorded as such.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    clientHeadersTimeoutMs: 800,
    clientRequestTimeoutMs: 1500,
    mock: { interEventDelayMs: 40, chunkChars: 4 },
  });
});
afterAll(async () => h?.close());

const body = JSON.stringify({
  model: 'claude-haiku-4-5',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'hello' }],
});

function open(): Promise<Socket> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Resolves with what the server sent once it closes the socket. */
function closed(socket: Socket): Promise<string> {
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => (data += chunk));
  return new Promise((resolve) => socket.on('close', () => resolve(data)));
}

async function servedNormally(): Promise<void> {
  const client = await h.client(['engineering']);
  const msg = await client.messages.create(JSON.parse(body));
  expect(msg.type).toBe('message');
}

describe('slow clients', () => {
  it('slowloris headers: cut off after limits.headersTimeoutMs while others are served', async () => {
    const socket = await open();
    const done = closed(socket);
    socket.write('POST /v1/messages HTTP/1.1\r\nHost: x\r\n');
    // The drip is the attack under test: one header line every 200 ms keeps the socket busy, never done.
    const drip = setInterval(() => socket.writable && socket.write('X-Drip: 1\r\n'), 200);
    await servedNormally();
    const started = Date.now();
    const answer = await done;
    clearInterval(drip);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('slow body: cut off after limits.requestTimeoutMs, nothing forwarded', async () => {
    const before = h.upstream.requests.length;
    const socket = await open();
    const done = closed(socket);
    const token = await h.token(['engineering']);
    socket.write(
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await servedNormally();
    const answer = await done;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(h.upstream.requests.length).toBe(before + 1); // only the normal call
  });
});

describe('a caller that leaves mid-stream', () => {
  it('is recorded as client_closed and the gateway keeps serving', async () => {
    const controller = new AbortController();
    const res = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${await h.token(['engineering'], 'leaver')}`,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        ...JSON.parse(body),
        stream: true,
        messages: [
          { role: 'user', content: 'a prompt long enough to stream for a while, chunk after chunk after chunk' },
        ],
      }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await expect
      .poll(async () => (await h.auditEvents()).some((e) => e.kind === 'exchange' && e.subject === 'leaver'), {
        timeout: 5000,
      })
      .toBe(true);
    const session = (await h.auditEvents()).find((e) => e.kind === 'exchange' && e.subject === 'leaver');
    expect(session?.kind === 'exchange' && session.response?.error).toMatchObject({ type: 'client_closed' });
    await servedNormally();
  });
});

describe('a caller that leaves before the upstream answers', () => {
  it('has its upstream call cancelled at once, recorded as the caller disconnecting', async () => {
    h.upstream.setFault({ kind: 'hang' });
    try {
      const controller = new AbortController();
      const before = h.upstream.requests.length;
      const call = fetch(`${h.url}/v1/messages`, {
        method: 'POST',
        signal: controller.signal,
        headers: {
          authorization: `Bearer ${await h.token(['engineering'], 'ghost')}`,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body,
      }).catch(() => undefined);
      // The upstream has the call (and will never answer it) before the caller leaves.
      await expect.poll(() => h.upstream.requests.length, { timeout: 5000 }).toBeGreaterThan(before);
      controller.abort();
      await call;
      // Without the cancellation the call would wait for the upstream headers timeout and record a timeout instead.
      await expect
        .poll(async () => (await h.auditEvents()).some((e) => e.kind === 'exchange' && e.subject === 'ghost'), {
          timeout: 3000,
        })
        .toBe(true);
      const record = (await h.auditEvents()).find((e) => e.kind === 'exchange' && e.subject === 'ghost');
      expect(record?.kind === 'exchange' && record.error?.message).toMatch(/caller disconnected/);
    } finally {
      h.upstream.setFault(undefined);
    }
    await servedNormally();
  });
});

describe('a refused caller does not get its body read', () => {
  /**
   * Sends headers announcing `announced` bytes, then writes 1 MiB chunks (honouring backpressure)
   * until the server closes the connection or everything is written; returns the bytes written
   * and what the server answered.
   */
  async function push(
    headers: string,
    announced: number,
    path = '/v1/messages',
  ): Promise<{ written: number; reply: string }> {
    const socket = await open();
    const reply = closed(socket);
    let gone = false;
    socket.on('close', () => (gone = true));
    socket.on('error', () => (gone = true));
    socket.write(
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
        `content-length: ${announced}\r\n${headers}\r\n`,
    );
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let written = 0;
    while (!gone && written < announced) {
      written += chunk.length;
      if (!socket.write(chunk))
        await new Promise((resolve) => {
          socket.once('drain', resolve);
          socket.once('close', resolve);
        });
    }
    socket.destroy();
    return { written, reply: await reply };
  }

  it('a bad token with a 300 MB body: 401 and the connection closed long before the body is read', async () => {
    const { written, reply } = await push('authorization: Bearer not-a-token\r\n', 300 * 1024 * 1024);
    expect(reply).toMatch(/^HTTP\/1\.1 401 /);
    // Socket buffers on both sides hold a few MiB; reading the whole body would take all 300.
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(reply.toLowerCase()).toContain('connection: close');
    await servedNormally();
  });

  it('the approval API with a bad token and a 300 MB body: 401 and closed, the body not read', async () => {
    const { written, reply } = await push(
      'authorization: Bearer not-a-token\r\n',
      300 * 1024 * 1024,
      '/sluice/api/grants',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 401 /);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(reply.toLowerCase()).toContain('connection: close');
    await servedNormally();
  });
});
