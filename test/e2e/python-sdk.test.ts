/** The official Python SDK through Sluice (installed into .venv by scripts/install-python-sdk.sh). */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const run = promisify(execFile);
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe('Python anthropic SDK through Sluice', () => {
  it('create, stream, count_tokens, models.list work and a policy deny is a PermissionDeniedError', async () => {
    const env = { ...process.env, SLUICE_URL: h.url, SLUICE_TOKEN: await h.token(['engineering'], 'py-user') };
    const { stdout } = await run('.venv/bin/python', ['test/e2e/python/sdk_client.py'], { env, timeout: 20_000 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.create).toContain('hello from python');
    expect(out.stream).toContain('stream from python');
    expect(out.stream_stop_reason).toBe('end_turn');
    expect(out.count_tokens).toBeGreaterThan(0);
    expect((out.models as string[]).length).toBeGreaterThan(0);
    expect(out.denied).toMatchObject({ status: 403, message: expect.stringContaining('claude-opus-4-7') });
  });

  it('creates a Message Batch and reads its masked results through Sluice, results_url included', async () => {
    const env = { ...process.env, SLUICE_URL: h.url, SLUICE_TOKEN: await h.token(['engineering'], 'py-user') };
    const script = 'test/e2e/python/batch_client.py';
    const created = JSON.parse(
      (await run('.venv/bin/python', [script, 'create'], { env, timeout: 20_000 })).stdout,
    ) as {
      id: string;
      status: string;
    };
    expect(created.status).toBe('in_progress');
    expect(JSON.stringify(h.upstream.requests.at(-1)?.body)).toContain('mail [EMAIL_1]');
    await h.upstream.batchEnded(created.id);
    const { stdout } = await run('.venv/bin/python', [script, 'results', created.id], { env, timeout: 20_000 });
    const out = JSON.parse(stdout) as { results_url: string; results: Record<string, string> };
    expect(out.results_url).toBe(`${h.url}/v1/messages/batches/${created.id}/results`);
    expect(out.results['py-plain']).toContain('hello batch from python');
    expect(out.results['py-email']).toContain('mail [EMAIL_1]');
    const results = h.upstream.requests.filter((r) => r.path.endsWith('/results'));
    expect(results.at(-1)?.headers['x-api-key']).toBe(h.upstreamKey);
  });

  it('uploads a file (masked, owned), lists it, and downloads a file code execution wrote', async () => {
    const env = { ...process.env, SLUICE_URL: h.url, SLUICE_TOKEN: await h.token(['engineering'], 'py-files') };
    const script = 'test/e2e/python/files_skills_client.py';
    const { stdout } = await run('.venv/bin/python', [script, 'files'], { env, timeout: 20_000 });
    const out = JSON.parse(stdout) as {
      uploaded: { id: string; filename: string };
      metadata_filename: string;
      listed: string[];
      output_file: string;
      downloaded: { size: number; sha256: string };
    };
    expect(out.uploaded.filename).toBe('notes.txt');
    expect(out.metadata_filename).toBe('notes.txt');
    expect(out.listed).toContain(out.uploaded.id);
    // Engineering's prompts lose e-mail addresses: the stored file is the masked one.
    expect(h.upstream.files.content(out.uploaded.id)?.toString('utf8')).toMatch(/^write to \[EMAIL_\d+\]\n$/);
    expect(await h.gateway.ownership.get('anthropic', 'file', out.uploaded.id)).toMatchObject({ owner: 'py-files' });
    const written = h.upstream.files.content(out.output_file)!;
    expect(out.downloaded).toEqual({
      size: written.length,
      sha256: createHash('sha256').update(written).digest('hex'),
    });
  });

  it('uploads a custom skill and uses it; another subject gets 404, a skill with a URL is refused', async () => {
    const env = {
      ...process.env,
      SLUICE_URL: h.url,
      SLUICE_TOKEN: await h.token(['engineering'], 'py-skills'),
      SLUICE_OTHER_TOKEN: await h.token(['engineering'], 'py-other'),
    };
    const script = 'test/e2e/python/files_skills_client.py';
    const { stdout } = await run('.venv/bin/python', [script, 'skill'], { env, timeout: 20_000 });
    const out = JSON.parse(stdout) as Record<string, { status?: number; message?: string; id?: string } | string>;
    expect(out.skill).toMatchObject({ source: 'custom', display_name: 'Python report' });
    expect(out.message_stop_reason).toBe('end_turn');
    expect(out.other).toMatchObject({ status: 404 });
    expect(out.refused).toMatchObject({ status: 403, message: expect.stringContaining('outbound URL') });
  });
});
