/**
 * The Files API through Sluice with the official SDK: uploads streamed to disk, inspected, masked
 * and forwarded; the uploader recorded as owner; other subjects refused with the 404 a missing
 * file gets; the size cap enforced before the upstream sees a byte.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/events.ts';
import { seedToolFile } from '../helpers/tool-files.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
let small: Harness;
beforeAll(async () => {
  [h, small] = await Promise.all([
    startHarness(),
    startHarness({ files: { maxUploadBytes: 1024 * 1024, maxScanBytes: 4096 } }),
  ]);
});
afterAll(async () => Promise.all([h?.close(), small?.close()]));

type Decision = Extract<AuditEvent, { kind: 'decision' }>;
type Session = Extract<AuditEvent, { kind: 'exchange' }>;

/** The decision and exchange events of the last call through `harness` (its record is written once it ends). */
async function lastCall(harness: Harness): Promise<{ decision: Decision; session: Session }> {
  return vi.waitFor(async () => {
    const events = await harness.auditEvents();
    const decision = events.filter((e) => e.kind === 'decision').at(-1) as Decision;
    const session = events.find((e) => e.kind === 'exchange' && e.decision_id === decision.decision_id) as Session;
    expect(session).toBeDefined();
    return { decision, session };
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Temporary upload directories `harness`'s gateway left behind (there must be none once a call is over). */
async function spoolDirs(harness: Harness = h): Promise<string[]> {
  return readdir(join(harness.stateDir, 'uploads')).catch(() => []);
}

describe('the Files API through Sluice', () => {
  it('uploads, lists, reads and deletes a binary file byte for byte, the uploader recorded as owner', async () => {
    const alice = await h.client(['engineering'], 'alice');
    const data = randomBytes(3 * 1024 * 1024);
    const before = h.upstream.requests.length;
    const file = await alice.beta.files.upload({
      file: await toFile(data, 'blob.bin', { type: 'application/pdf' }),
      betas: ['files-api-2025-04-14'],
    });
    expect(file).toMatchObject({ type: 'file', filename: 'blob.bin', mime_type: 'application/pdf' });
    expect(file.size_bytes).toBe(data.length);
    expect(h.upstream.files.content(file.id)?.equals(data)).toBe(true);
    // The beta the SDK sends reaches the upstream; the caller's credential does not.
    const sent = h.upstream.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(String(sent[0]!.headers['anthropic-beta'])).toContain('files-api-2025-04-14');
    expect(sent[0]!.headers['x-api-key']).toBe(h.upstreamKey);
    // A length, not chunked: the rebuilt multipart body's size is known from the spooled file.
    expect(Number(sent[0]!.headers['content-length'])).toBeGreaterThan(data.length);
    expect(sent[0]!.headers['transfer-encoding']).toBeUndefined();

    const { decision, session } = await lastCall(h);
    const upload = {
      filename: 'blob.bin',
      media_type: 'application/pdf',
      size_bytes: data.length,
      sha256: sha256(data),
    };
    expect((decision.input as { upload: unknown }).upload).toEqual({ ...upload, text: false, scanned: false });
    // The audit describes the file; it never holds its bytes.
    expect(session.request).toEqual({ file: upload });
    expect(JSON.stringify(await h.auditEvents()).length).toBeLessThan(data.length / 10);
    const record = await h.gateway.ownership.get('anthropic', 'file', file.id);
    expect(record).toMatchObject({ owner: 'alice', details: { ...upload, owner_groups: ['engineering'] } });

    const listed: string[] = [];
    for await (const f of alice.beta.files.list()) listed.push(f.id);
    expect(listed).toEqual([file.id]);
    expect(await alice.beta.files.retrieveMetadata(file.id)).toMatchObject({ id: file.id, size_bytes: data.length });
    expect(await alice.beta.files.delete(file.id)).toMatchObject({ id: file.id, type: 'file_deleted' });
    expect(h.upstream.files.metadata(file.id)).toBeUndefined();
    expect(await spoolDirs()).toEqual([]);
  });

  it("bob can neither list, read, download nor delete alice's upload: 404, as for a missing file", async () => {
    const alice = await h.client(['engineering'], 'alice');
    const file = await alice.beta.files.upload({ file: await toFile(Buffer.from('plain notes\n'), 'notes.txt') });
    const bob = await h.client(['engineering'], 'bob');
    const listed: string[] = [];
    for await (const f of bob.beta.files.list()) listed.push(f.id);
    expect(listed).not.toContain(file.id);
    const calls = [() => bob.beta.files.retrieveMetadata(file.id), () => bob.beta.files.delete(file.id)];
    for (const call of calls) {
      const err = (await call().catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      expect(err.error).toMatchObject({ error: { type: 'not_found_error', message: `file not found: ${file.id}` } });
    }
    expect(h.upstream.files.metadata(file.id)).toBeDefined();
  });

  it('downloads a file a tool created, streamed byte for byte; the audit keeps its size and SHA-256', async () => {
    const { id, data } = await seedToolFile(h, 'alice', 5 * 1024 * 1024);
    const alice = await h.client(['engineering'], 'alice');
    const response = await alice.beta.files.download(id);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('content-disposition')).toContain('chart.png');
    const got = Buffer.from(await response.arrayBuffer());
    expect(got.equals(data)).toBe(true);
    const { decision, session } = await lastCall(h);
    expect((decision.input as { resource: unknown }).resource).toMatchObject({ id, media_type: 'image/png' });
    expect(session.response).toMatchObject({
      status: 200,
      body: { content_type: 'image/png', size_bytes: data.length, sha256: sha256(data) },
    });
    expect(JSON.stringify(await h.auditEvents()).length).toBeLessThan(data.length / 10);
  });

  it('a text file for a caller whose answers are masked is masked, or refused when it cannot be', async () => {
    /** A downloadable text file owned by alice on `harness`'s upstream. */
    const seed = async (harness: Harness, name: string, text: string): Promise<string> => {
      const meta = harness.upstream.files.add(name, 'text/plain', Buffer.from(text), { downloadable: true });
      await harness.gateway.ownership.record({
        type: 'file',
        id: meta.id,
        connection: 'anthropic',
        owner: 'alice',
        createdAt: new Date().toISOString(),
        details: { filename: name, media_type: 'text/plain', size_bytes: meta.size_bytes },
      });
      return meta.id;
    };
    // engineering's answers never carry credentials (policies/sluice/data.json): a file a tool wrote may not either.
    const key = 'AKIAQ3EGRXOYBZNMW7PD';
    const id = await seed(small, 'out.txt', `the key is ${key}\n`);
    const alice = await small.client(['engineering'], 'alice');
    const text = await (await alice.beta.files.download(id)).text();
    expect(text).not.toContain(key);
    expect(text).toMatch(/^the key is \[AWS_ACCESS_KEY_\d+\]\n$/);
    // The exchange record lists the masks of the answer (the decision event was written before it).
    expect((await lastCall(small)).session.masks_applied).toEqual([
      { type: 'AWS_ACCESS_KEY', count: 1, path: 'response.file' },
    ]);
    // Larger than files.maxScanBytes (4096 here): refused, never sent unmasked.
    const big = await seed(small, 'big.txt', `${'x'.repeat(5000)} ${key}\n`);
    const err = (await alice.beta.files.download(big).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(err.message).toContain('files.maxScanBytes');
  });

  it('an uploaded file is not downloadable: the upstream refusal is relayed in the API shape', async () => {
    const alice = await h.client(['engineering'], 'alice');
    const file = await alice.beta.files.upload({ file: await toFile(randomBytes(100), 'raw.bin') });
    const err = (await alice.beta.files.download(file.id).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('a text upload is scanned: the e-mail address is a finding, masked in what goes upstream', async () => {
    const alice = await h.client(['engineering'], 'alice');
    const text = 'Customer: jane.doe@example.com\nOrder 42\n';
    const file = await alice.beta.files.upload({ file: await toFile(Buffer.from(text), 'customer.txt') });
    const stored = h.upstream.files.content(file.id)!.toString('utf8');
    expect(stored).not.toContain('jane.doe@example.com');
    expect(stored).toMatch(/^Customer: \[EMAIL_\d+\]\nOrder 42\n$/);
    const { decision } = await lastCall(h);
    const input = decision.input as { request: { findings: Record<string, number> }; upload: { sha256: string } };
    expect(input.request.findings).toEqual({ EMAIL: 1 });
    expect(input.upload.sha256).toBe(sha256(Buffer.from(text)));
    expect(decision.masks_applied).toEqual([{ type: 'EMAIL', count: 1, path: 'request.file' }]);
    expect(JSON.stringify(await h.auditEvents())).not.toContain('jane.doe@example.com');
    const record = await h.gateway.ownership.get('anthropic', 'file', file.id);
    expect(record?.details).toMatchObject({
      sha256: sha256(Buffer.from(stored)),
      sha256_received: input.upload.sha256,
    });
  });

  it('an upload over files.maxUploadBytes is 413 in the API shape, and the upstream sees nothing', async () => {
    const alice = await small.client(['engineering'], 'alice');
    const before = small.upstream.requests.length;
    const err = (await alice.beta.files
      .upload({ file: await toFile(randomBytes(2 * 1024 * 1024), 'big.bin') })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(413);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(small.upstream.requests.length).toBe(before);
    const { decision } = await lastCall(small);
    expect(decision.error?.code).toBe('SLUICE_ERR_UPLOAD_TOO_LARGE');
    expect(await spoolDirs(small)).toEqual([]);
  });

  it('refuses a malformed upload with 400 and forwards nothing', async () => {
    const token = await h.token(['engineering'], 'alice');
    const before = h.upstream.requests.length;
    const post = (body: string, type: string) =>
      fetch(`${h.url}/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'anthropic-version': '2023-06-01', 'content-type': type },
        body,
      });
    const b = 'XyZ';
    const noFile = await post(
      `--${b}\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--${b}--\r\n`,
      `multipart/form-data; boundary=${b}`,
    );
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.stringContaining('other') },
    });
    const cut = await post(
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc`,
      `multipart/form-data; boundary=${b}`,
    );
    expect(cut.status).toBe(400);
    const json = await post('{}', 'application/json');
    expect(json.status).toBe(400);
    // The other way round: a multipart body where JSON is expected is refused as before, not parsed.
    const onMessages = await fetch(`${h.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${b}` },
      body: `--${b}--\r\n`,
    });
    expect(onMessages.status).toBe(400);
    expect(await onMessages.json()).toMatchObject({ error: { message: 'request body must be application/json' } });
    expect(h.upstream.requests.length).toBe(before);
    expect(await spoolDirs()).toEqual([]);
  });
});
