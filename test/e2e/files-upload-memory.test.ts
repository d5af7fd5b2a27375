/**
 * A 200 MB upload and a 200 MB download through Sluice keep the gateway's memory bounded: the
 * upload is streamed to disk and from disk to the upstream, the download relayed as it arrives.
 * The harness runs in this process, so the process's RSS is the gateway's (plus the test's): what
 * is bounded is its growth, as the embedded state database alone holds ~350 MB from the start.
 * The client streams the multipart body from disk with node:http: the SDK's fetch reads a
 * FormData file into memory first (measured: +175 MiB for this upload, with a file-backed Blob
 * too), which would measure the client, not Sluice. The upstream here only counts and hashes what
 * it receives, and makes the download's bytes as it sends them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const SIZE = 200 * 1024 * 1024;
/** A buffered upload alone would grow RSS by at least 200 MB; measured growth is 10 to 25 MiB. */
const RSS_BOUND = 100 * 1024 * 1024;

let h: Harness;
let upstream: Server;
let dir: string;
const received = { bytes: 0, sha256: '' };

/** The download's bytes: 1 MiB blocks, each the sha256 chain of a counter, made as they are sent (nothing held). */
function downloadBlock(i: number): Buffer {
  const seed = createHash('sha256').update(`block-${i}`).digest();
  return Buffer.alloc(1024 * 1024, seed);
}

/** Streams the download's 200 MB to `res`, honouring backpressure. */
async function sendDownload(res: import('node:http').ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
  for (let i = 0; i < SIZE / (1024 * 1024); i++) if (!res.write(downloadBlock(i))) await once(res, 'drain');
  res.end();
}

beforeAll(async () => {
  // An upstream that keeps nothing: the mock would hold the 200 MB file in this same process.
  upstream = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.endsWith('/content')) {
      void sendDownload(res);
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      Object.assign(received, { bytes, sha256: hash.digest('hex') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'file',
          id: 'file_011CmemoryTest000000000',
          filename: 'big.bin',
          mime_type: 'application/octet-stream',
          size_bytes: bytes,
          created_at: new Date().toISOString(),
          downloadable: false,
        }),
      );
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const address = upstream.address() as { port: number };
  h = await startHarness({ upstreamUrl: `http://127.0.0.1:${address.port}`, bodyTimeoutMs: 60_000 });
  dir = await mkdtemp(join(tmpdir(), 'sluice-memory-test-'));
});
afterAll(async () => {
  await h?.close();
  upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes `size` bytes of random data to `path`, one MiB at a time. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  for (let left = size; left > 0; left -= 1024 * 1024) {
    const chunk = randomBytes(Math.min(left, 1024 * 1024));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** POSTs `path` as the `file` part of a multipart body to `url`, streamed from disk; the answer's status and JSON. */
async function streamUpload(url: string, token: string, path: string, size: number): Promise<[number, unknown]> {
  const boundary = `----upload${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const req = request(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'anthropic-version': '2023-06-01',
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + size + tail.length),
    },
  });
  const answered = once(req, 'response') as Promise<[IncomingMessage]>;
  req.write(head);
  const file = createReadStream(path);
  file.pipe(req, { end: false });
  await once(file, 'end');
  req.end(tail);
  const [res] = await answered;
  let text = '';
  for await (const chunk of res) text += chunk;
  return [res.statusCode ?? 0, JSON.parse(text)];
}

describe('a 200 MB upload through Sluice', () => {
  it(
    'streams through with the gateway process RSS growing by far less than the file',
    { timeout: 120_000 },
    async () => {
      const path = join(dir, 'big.bin');
      const sha256 = await writeRandomFile(path, SIZE);
      const token = await h.token(['engineering'], 'alice');
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      try {
        const [status, file] = await streamUpload(`${h.url}/v1/files`, token, path, SIZE);
        expect(status).toBe(200);
        expect(file).toMatchObject({ id: 'file_011CmemoryTest000000000' });
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      const growth = peak - baseline;
      const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
      console.log(`200 MB upload: RSS baseline ${mib(baseline)} MiB, peak growth ${mib(growth)} MiB`);
      expect(growth).toBeLessThan(RSS_BOUND);
      // The upstream got the whole file inside a multipart body Sluice built.
      expect(received.bytes).toBeGreaterThan(SIZE);
      const record = await h.gateway.ownership.get('anthropic', 'file', 'file_011CmemoryTest000000000');
      expect(record?.details).toMatchObject({ size_bytes: SIZE, sha256 });
    },
  );
});

describe('a 200 MB download through Sluice', () => {
  it(
    'is relayed as it arrives, the gateway process RSS growing by far less than the file',
    { timeout: 120_000 },
    async () => {
      // The caller must own the file: the upload above recorded alice as its owner.
      const record = await h.gateway.ownership.get('anthropic', 'file', 'file_011CmemoryTest000000000');
      expect(record?.owner).toBe('alice');
      const token = await h.token(['engineering'], 'alice');
      const expected = createHash('sha256');
      for (let i = 0; i < SIZE / (1024 * 1024); i++) expected.update(downloadBlock(i));
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      const got = createHash('sha256');
      let bytes = 0;
      let status = 0;
      try {
        const req = request(`${h.url}/v1/files/file_011CmemoryTest000000000/content`, {
          headers: {
            authorization: `Bearer ${token}`,
            'anthropic-version': '2023-06-01',
            'anthropic-beta': 'files-api-2025-04-14',
          },
        });
        req.end();
        const [res] = (await once(req, 'response')) as [IncomingMessage];
        status = res.statusCode ?? 0;
        for await (const chunk of res) {
          bytes += (chunk as Buffer).length;
          got.update(chunk as Buffer);
        }
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      const growth = peak - baseline;
      const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
      console.log(`200 MB download: RSS baseline ${mib(baseline)} MiB, growth ${mib(growth)} MiB`);
      expect(status).toBe(200);
      expect(bytes).toBe(SIZE);
      expect(got.digest('hex')).toBe(expected.digest('hex'));
      expect(growth).toBeLessThan(RSS_BOUND);
    },
  );
});
