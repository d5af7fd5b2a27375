import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import { spoolUpload } from '../../../gateway/inspect/upload-spool.ts';

const BOUNDARY = 'b0undary';
const SPOOL = join(tmpdir(), `sluice-spool-test-${process.pid}`);
const TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

function multipart(file: Buffer, extra = ''): Buffer {
  return Buffer.concat([
    Buffer.from(
      `preamble\r\n--${BOUNDARY}\r\n` +
        `Content-Disposition: form-data; name="file"; filename="C:\\\\docs\\\\re\\"port.txt"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    ),
    file,
    Buffer.from(`${extra}\r\n--${BOUNDARY}--\r\nepilogue`),
  ]);
}

/** `body` cut into chunks of `size` bytes, so delimiters fall across chunk edges. */
async function* chunks(body: Buffer, size: number): AsyncIterable<Buffer> {
  for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
}

async function refusal(promise: Promise<unknown>): Promise<SluiceError> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SluiceError);
  return err as SluiceError;
}

afterAll(() => rm(SPOOL, { recursive: true, force: true }));

describe('spoolUpload', () => {
  it('streams the file part to a private file, whatever the chunking, with its size and SHA-256', async () => {
    // Content that holds most of a delimiter, so only the full one ends the part.
    const data = Buffer.concat([randomBytes(70_000), Buffer.from(`\r\n--${BOUNDARY.slice(0, 5)}`), randomBytes(999)]);
    for (const size of [3, 8, 4096, 1 << 20]) {
      const up = await spoolUpload(chunks(multipart(data), size), { 'content-type': TYPE }, 1 << 20, SPOOL);
      expect(up.filename).toBe('re"port.txt');
      expect(up.mediaType).toBe('text/plain');
      expect(up.sizeBytes).toBe(data.length);
      expect(up.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect((await readFile(up.path)).equals(data)).toBe(true);
      expect((await stat(up.path)).mode & 0o777).toBe(0o600);
      expect((await stat(dirname(up.path))).mode & 0o777).toBe(0o700);
      await up.remove();
      await expect(stat(dirname(up.path))).rejects.toThrow();
    }
  });

  it('refuses at the byte past the limit when no length is declared, and removes the file', async () => {
    let read = 0;
    async function* endless(): AsyncIterable<Buffer> {
      yield Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`);
      for (;;) {
        read += 65536;
        yield Buffer.alloc(65536);
      }
    }
    const err = await refusal(spoolUpload(endless(), { 'content-type': TYPE }, 1_000_000, SPOOL));
    expect(err.code).toBe('SLUICE_ERR_UPLOAD_TOO_LARGE');
    expect(read).toBeLessThan(1_000_000 + 2 * 65536);
    expect(await readdir(SPOOL)).toEqual([]);
  });

  it('refuses an upload over the limit sent in small chunks without an error escaping the call', async () => {
    // Small chunks leave writes buffered in the file stream when the limit is hit: destroying it fails them, and
    // that failure, unheard, was an uncaught exception (the gateway process would exit).
    const body = Buffer.concat([
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`),
      Buffer.alloc(300_000),
      Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
    ]);
    const err = await refusal(spoolUpload(chunks(body, 7), { 'content-type': TYPE }, 100_000, SPOOL));
    expect(err.code).toBe('SLUICE_ERR_UPLOAD_TOO_LARGE');
    // The destroyed stream's failures are reported on later turns of the event loop: give them the chance.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await readdir(SPOOL)).toEqual([]);
  });

  it('refuses a declared length over the limit before reading anything', async () => {
    let touched = false;
    async function* body(): AsyncIterable<Buffer> {
      touched = true;
      yield Buffer.alloc(1);
    }
    const err = await refusal(
      spoolUpload(body(), { 'content-type': TYPE, 'content-length': '5000000' }, 1_000_000, SPOOL),
    );
    expect(err.code).toBe('SLUICE_ERR_UPLOAD_TOO_LARGE');
    expect(touched).toBe(false);
  });

  it('keeps expires_in_seconds and refuses anything else beside the file', async () => {
    const field = (name: string, value: string) =>
      `\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}`;
    const ok = await spoolUpload(
      chunks(multipart(Buffer.from('x'), field('expires_in_seconds', '3600')), 5),
      { 'content-type': TYPE },
      1000,
      SPOOL,
    );
    expect(ok.expiresInSeconds).toBe('3600');
    await ok.remove();
    for (const extra of [field('purpose', 'x'), field('expires_in_seconds', 'soon'), field('file', 'x')]) {
      const err = await refusal(
        spoolUpload(chunks(multipart(Buffer.from('x'), extra), 3), { 'content-type': TYPE }, 1000, SPOOL),
      );
      expect(err.code).toBe('SLUICE_ERR_BAD_UPLOAD');
    }
    const unclosed = Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc`,
    );
    expect((await refusal(spoolUpload(chunks(unclosed, 4), { 'content-type': TYPE }, 1000, SPOOL))).code).toBe(
      'SLUICE_ERR_BAD_UPLOAD',
    );
    expect((await refusal(spoolUpload(chunks(unclosed, 4), { 'content-type': 'text/plain' }, 1000, SPOOL))).code).toBe(
      'SLUICE_ERR_UNSUPPORTED_MEDIA',
    );
  });
});
