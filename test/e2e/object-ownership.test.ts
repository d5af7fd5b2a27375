/**
 * The ownership stage: a call naming a file by id is decided with the file's recorded owner, and a
 * refusal on ownership is the 404 a missing file gets. Files are put on the upstream directly and
 * their owner seeded in the gateway's store, so these tests need no upload through Sluice.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/events.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/** A file on the upstream, created behind Sluice's back, owned by `owner` in the gateway's records (if any). */
async function upstreamFile(name: string, owner: string | undefined): Promise<string> {
  const meta = h.upstream.files.add(name, 'text/plain', Buffer.from(`content of ${name}\n`), { downloadable: false });
  if (owner !== undefined) {
    await h.gateway.ownership.record({
      type: 'file',
      id: meta.id,
      connection: 'anthropic',
      owner,
      createdAt: new Date().toISOString(),
      details: { filename: name, size_bytes: meta.size_bytes, media_type: 'text/plain', owner_groups: ['engineering'] },
    });
  }
  return meta.id;
}

/** The last decision event of the audit trail. */
async function lastDecision(): Promise<Extract<AuditEvent, { kind: 'decision' }>> {
  const decisions = (await h.auditEvents()).filter((e) => e.kind === 'decision');
  return decisions.at(-1) as Extract<AuditEvent, { kind: 'decision' }>;
}

describe('object ownership through Sluice', () => {
  it('the owner reads and deletes their file; the deleted file is then unknown', async () => {
    const id = await upstreamFile('alice-notes.txt', 'alice');
    const alice = await h.client(['engineering'], 'alice');
    const meta = await alice.beta.files.retrieveMetadata(id);
    expect(meta).toMatchObject({ id, filename: 'alice-notes.txt', type: 'file' });
    const decision = (await lastDecision()) as { input?: { resource?: unknown } };
    expect(decision.input?.resource).toMatchObject({ type: 'file', id, owner: 'alice', size_bytes: meta.size_bytes });

    const deleted = await alice.beta.files.delete(id);
    expect(deleted).toMatchObject({ id, type: 'file_deleted' });
    expect(await h.gateway.ownership.get('anthropic', 'file', id)).toBeUndefined();
    const again = await alice.beta.files.retrieveMetadata(id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Anthropic.NotFoundError);
  });

  it("bob cannot read or delete alice's file: 404, as for a missing one, and the upstream is never asked", async () => {
    const id = await upstreamFile('alice-secret.txt', 'alice');
    const bob = await h.client(['engineering'], 'bob');
    const before = h.upstream.requests.length;
    for (const call of [() => bob.beta.files.retrieveMetadata(id), () => bob.beta.files.delete(id)]) {
      const err = (await call().catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
      // The message says nothing of the owner or of the policy.
      expect(JSON.stringify(err.error)).not.toMatch(/alice|belongs|policy|denied/);
    }
    expect(h.upstream.requests.length).toBe(before);
    expect(h.upstream.files.metadata(id)).toBeDefined();
    // The audit keeps why: the reason the caller was not shown.
    expect((await lastDecision()).reasons).toEqual([`file ${id} belongs to another subject`]);
  });

  it('an id with no recorded owner is 404 before the policy', async () => {
    const id = await upstreamFile('made-elsewhere.txt', undefined);
    const alice = await h.client(['engineering'], 'alice');
    const err = (await alice.beta.files.retrieveMetadata(id).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.error).toMatchObject({ error: { type: 'not_found_error', message: `file not found: ${id}` } });
    const missing = await alice.beta.files.retrieveMetadata('file_011CdoesNotExist000').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
  });

  it("a listing shows only the caller's files, and the SDK's auto-paging ends", async () => {
    const mine = [await upstreamFile('l-a1.txt', 'carol'), await upstreamFile('l-a2.txt', 'carol')];
    await upstreamFile('l-b1.txt', 'dave');
    await upstreamFile('l-unknown.txt', undefined);
    const carol = await h.client(['engineering'], 'carol');
    const seen: string[] = [];
    for await (const file of carol.beta.files.list({ limit: 1 })) seen.push(file.id);
    expect(seen.sort()).toEqual([...mine].sort());
  });

  it('a group without the files operations is refused with 403, not hidden', async () => {
    const ci = await h.client(['ci'], 'alice');
    const err = await ci.beta.files.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  });
});
