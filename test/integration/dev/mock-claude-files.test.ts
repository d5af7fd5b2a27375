/** mock-claude's Files API driven by the official SDK (client.beta.files), as the gateway's tests will use it. */
import { randomBytes } from 'node:crypto';
import Anthropic, { APIError, toFile } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { API_KEY, sdkClient, useMockClaude } from './sdk-tap.ts';

const mockClaude = useMockClaude();
const client = mockClaude.client;
const betas = ['files-api-2025-04-14' as const];

describe('mock-claude: Files API', () => {
  it('upload, retrieveMetadata, list, delete with the real shapes; an uploaded file is not downloadable', async () => {
    const bytes = Buffer.from('quarterly numbers\n');
    const { data: meta, response } = await client()
      .beta.files.upload({ file: await toFile(bytes, 'report.txt', { type: 'text/plain' }), betas })
      .withResponse();
    expect(response.headers.get('request-id')).toMatch(/^req_01/);
    expect(meta).toEqual({
      type: 'file',
      id: expect.stringMatching(/^file_011C[A-Za-z0-9]{20}$/),
      filename: 'report.txt',
      mime_type: 'text/plain',
      size_bytes: bytes.length,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      downloadable: false,
      expires_at: null,
    });
    expect(mockClaude.mock.requests.at(-1)?.headers['anthropic-beta']).toBe('files-api-2025-04-14');
    expect(await client().beta.files.retrieveMetadata(meta.id, { betas })).toEqual(meta);
    const listed = await client().beta.files.list({ betas });
    expect(listed.data[0]).toEqual(meta);

    const refused = await client()
      .beta.files.download(meta.id, { betas })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.FileNotDownloadableError);
    expect(refused).toMatchObject({ status: 400, type: 'invalid_request_error', errorCode: 'file_not_downloadable' });

    expect(await client().beta.files.delete(meta.id, { betas })).toEqual({ id: meta.id, type: 'file_deleted' });
    const gone = await client()
      .beta.files.retrieveMetadata(meta.id, { betas })
      .catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(Anthropic.NotFoundError);
    expect((gone as APIError).error).toEqual({
      type: 'error',
      error: { type: 'not_found_error', message: expect.stringContaining(meta.id) },
      request_id: expect.stringMatching(/^req_01/),
    });
    expect((gone as APIError).requestID).toMatch(/^req_01/);
  });

  it('stores the uploaded bytes exactly; a file a tool created downloads with its type and name', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 7); // binary, with CRLF and "--" sequences somewhere inside
    const meta = await client().beta.files.upload({ file: await toFile(bytes, 'blob.bin') });
    expect(meta).toMatchObject({ size_bytes: bytes.length, mime_type: 'application/octet-stream' });
    expect(mockClaude.mock.files.content(meta.id)?.equals(bytes)).toBe(true);

    const made = mockClaude.mock.files.add('chart.csv', 'text/csv', Buffer.from('a,b\n1,2\n'), { downloadable: true });
    const res = await client().beta.files.download(made.id, { betas });
    expect(res.headers.get('content-type')).toBe('text/csv');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="chart.csv"');
    expect(await res.text()).toBe('a,b\n1,2\n');
    expect(await client().beta.files.retrieveMetadata(made.id)).toMatchObject({ downloadable: true, size_bytes: 8 });
  });

  it('list pages newest first with limit, the page cursor (SDK auto-paging), after_id and before_id', async () => {
    const before = new Set((await client().beta.files.list({ limit: 1000 })).data.map((f) => f.id));
    const ids: string[] = [];
    for (const name of ['one.txt', 'two.txt', 'three.txt'])
      ids.push((await client().beta.files.upload({ file: await toFile(Buffer.from(name), name) })).id);
    const newestFirst = [...ids].reverse();
    const first = await client().beta.files.list({ limit: 2 });
    expect(first.data.map((f) => f.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.next_page).toMatch(/^page_/);
    const all: string[] = [];
    for await (const file of client().beta.files.list({ limit: 2 })) all.push(file.id);
    expect(all.filter((id) => !before.has(id))).toEqual(newestFirst);

    const raw = async (query: string) => {
      const res = await fetch(`${mockClaude.mock.url}/v1/files?${query}`, {
        headers: { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
      });
      return (await res.json()) as { data: { id: string }[]; has_more: boolean; first_id: string; last_id: string };
    };
    const after = await raw(`limit=1&after_id=${newestFirst[0]}`);
    expect(after).toMatchObject({ data: [{ id: newestFirst[1] }], has_more: true, first_id: newestFirst[1] });
    const back = await raw(`limit=1&before_id=${newestFirst[2]}`);
    expect(back).toMatchObject({ data: [{ id: newestFirst[1] }], has_more: true, last_id: newestFirst[1] });
    const chosen = await client().beta.files.list({ ids: [ids[0]!, ids[2]!, 'file_011Cnotthere'] });
    expect(chosen.data.map((f) => f.id)).toEqual([ids[2], ids[0]]);
  });

  it('refuses what the API refuses: no key, no file part, a bad expiry, a non-multipart body', async () => {
    const noKey = await client({ apiKey: 'sk-ant-wrong' })
      .beta.files.list()
      .catch((e: unknown) => e);
    expect(noKey).toBeInstanceOf(Anthropic.AuthenticationError);
    const form = new FormData();
    form.append('purpose', 'nothing');
    const headers = { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' };
    const noFile = await fetch(`${mockClaude.mock.url}/v1/files`, { method: 'POST', headers, body: form });
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: 'file: Field required' },
    });
    const expiry = await client()
      .beta.files.upload({ file: await toFile(Buffer.from('x'), 'x.txt'), expires_in_seconds: 60 })
      .catch((e: unknown) => e);
    expect(expiry).toBeInstanceOf(Anthropic.BadRequestError);
    expect((expiry as Error).message).toContain('expires_in_seconds');
    const json = await fetch(`${mockClaude.mock.url}/v1/files`, { method: 'POST', headers, body: '{}' });
    expect(json.status).toBe(400);
  });

  it('keeps only the last path component of the filename and honours expires_in_seconds', async () => {
    const form = new FormData();
    form.append('file', new Blob(['# notes']), 'C:\\Users\\me\\notes.md');
    form.append('expires_in_seconds', '3600');
    const res = await fetch(`${mockClaude.mock.url}/v1/files`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
      body: form,
    });
    const meta = (await res.json()) as { filename: string; mime_type: string; created_at: string; expires_at: string };
    expect(meta).toMatchObject({ filename: 'notes.md', mime_type: 'text/markdown' });
    expect(Date.parse(meta.expires_at) - Date.parse(meta.created_at)).toBe(3600 * 1000);
  });

  it('refuses an upload over the storage quota with storage_quota_exceeded; deleting frees the space', async () => {
    const small = await MockClaude.start({ apiKey: API_KEY, maxFileStorageBytes: 1000 });
    try {
      const c = sdkClient(small.url);
      const kept = await c.beta.files.upload({ file: await toFile(Buffer.alloc(600), 'a.bin') });
      const over = await c.beta.files
        .upload({ file: await toFile(Buffer.alloc(600), 'b.bin') })
        .catch((e: unknown) => e);
      expect(over).toBeInstanceOf(Anthropic.StorageQuotaExceededError);
      expect(over).toMatchObject({ status: 400, errorCode: 'storage_quota_exceeded' });
      await c.beta.files.delete(kept.id);
      expect(await c.beta.files.upload({ file: await toFile(Buffer.alloc(600), 'b.bin') })).toMatchObject({
        size_bytes: 600,
      });
    } finally {
      await small.close();
    }
  });
});
