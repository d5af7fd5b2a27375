/**
 * Objects a message names or creates, through the whole gateway: the file and container code
 * execution creates (a Skill's output) become the caller's, in a JSON and in a streamed answer;
 * another subject who names them (download, a document block, the container) gets the 404 a
 * missing object gets, and nothing reaches the upstream.
 */
import { toFile } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const ENGINEERING = ['engineering'];
const withXlsx = (text: string, extra: Record<string, unknown> = {}) => ({
  model: 'claude-sonnet-4-6',
  max_tokens: 256,
  messages: [{ role: 'user', content: text }],
  container: { skills: [{ type: 'anthropic', skill_id: 'xlsx', version: 'latest' }] },
  ...extra,
});

async function call(sub: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token(ENGINEERING, sub)}`,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'code-execution-2025-08-25,skills-2025-10-02,files-api-2025-04-14',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** The created file's id and the container's, from a JSON message or an SSE stream's text. */
function created(text: string): { fileId: string; containerId: string } {
  const fileId = /"file_id":"(file_[A-Za-z0-9]+)"/.exec(text)?.[1];
  const containerId = /"id":"(container_[A-Za-z0-9]+)"/.exec(text)?.[1];
  expect(fileId).toBeDefined();
  expect(containerId).toBeDefined();
  return { fileId: fileId!, containerId: containerId! };
}

async function download(sub: string, fileId: string): Promise<number> {
  const client = await h.client(ENGINEERING, sub);
  return client.beta.files
    .download(fileId, { betas: ['files-api-2025-04-14'] })
    .then((res) => res.status)
    .catch((err: { status?: number }) => err.status ?? 0);
}

describe('objects a message creates or names', () => {
  it("makes a skill's output file and container the caller's, in a JSON answer", async () => {
    const answer = await call('alice', withXlsx('make a sheet'));
    expect(answer.status).toBe(200);
    const { fileId, containerId } = created(answer.text);
    expect(await download('alice', fileId)).toBe(200);
    const before = h.upstream.requests.length;
    expect(await download('bob', fileId)).toBe(404);
    // The container: alice continues it, bob may not.
    expect((await call('alice', withXlsx('again', { container: { id: containerId } }))).status).toBe(200);
    const bobs = await call('bob', { ...withXlsx('hijack'), container: containerId });
    expect(bobs.status).toBe(404);
    expect(JSON.parse(bobs.text)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(h.upstream.requests.length).toBe(before + 1);
  });

  it("makes a streamed answer's output file the caller's once the stream ends", async () => {
    const answer = await call('carol', withXlsx('make a sheet', { stream: true }));
    expect(answer.status).toBe(200);
    const { fileId } = created(answer.text);
    expect(await download('carol', fileId)).toBe(200);
    expect(await download('dave', fileId)).toBe(404);
  });

  it("refuses a document block naming another subject's uploaded file", async () => {
    const erin = await h.client(ENGINEERING, 'erin');
    const file = await erin.beta.files.upload({
      file: await toFile(Buffer.from('quarterly numbers'), 'q.txt', { type: 'text/plain' }),
      betas: ['files-api-2025-04-14'],
    });
    const naming = (text: string) => ({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'file', file_id: file.id } },
            { type: 'text', text },
          ],
        },
      ],
    });
    expect((await call('erin', naming('summarise'))).status).toBe(200);
    const before = h.upstream.requests.length;
    const theirs = await call('frank', naming('summarise it for me'));
    expect(theirs.status).toBe(404);
    expect(theirs.text).not.toContain('erin');
    // An id nobody uploaded through Sluice is refused the same way.
    const unknown = await call('erin', {
      ...naming('x'),
      messages: [
        {
          role: 'user',
          content: [{ type: 'document', source: { type: 'file', file_id: 'file_011CNoSuchFile0000000' } }],
        },
      ],
    });
    expect(unknown.status).toBe(404);
    expect(h.upstream.requests.length).toBe(before);
  });
});
