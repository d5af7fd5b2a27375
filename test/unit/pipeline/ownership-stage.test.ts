import { describe, expect, it } from 'vitest';
import type { OwnedObject, OwnershipStore } from '../../../gateway/access/ownership.ts';
import { SluiceError } from '../../../gateway/errors.ts';
import { operationNamed } from '../../../gateway/operations/operation-table.ts';
import { filterListing, lookUpResource, settleOwnership } from '../../../gateway/pipeline/ownership-stage.ts';
import { parseDecision } from '../../../gateway/policy/decision.ts';

const FILE: OwnedObject = {
  type: 'file',
  id: 'file_a',
  connection: 'anthropic',
  owner: 'alice',
  createdAt: '2026-01-01T00:00:00.000Z',
  details: { size_bytes: 12, media_type: 'text/plain', owner_groups: ['engineering'], sha256: 'ab' },
};

/** An in-memory store with the records given, noting what was forgotten. */
function store(records: OwnedObject[], failing = false): OwnershipStore & { forgotten: string[] } {
  const byId = new Map(records.map((r) => [r.id, r]));
  const forgotten: string[] = [];
  const fail = () => Promise.reject(new Error('database down'));
  return {
    forgotten,
    record: async (o) => o,
    get: async (_c, _t, id) => (failing ? fail() : byId.get(id)),
    getMany: async (_c, _t, ids) => new Map(ids.flatMap((id) => (byId.has(id) ? [[id, byId.get(id)!]] : []))),
    forget: async (_c, _t, id) => void forgotten.push(id),
    close: async () => {},
  };
}

const get = operationNamed('files.get')!;

describe('the ownership stage', () => {
  it("gives the policy the object's owner, size and media type", async () => {
    const facts = await lookUpResource(store([FILE]), get, 'anthropic', { file_id: 'file_a' }, 'deny');
    expect(facts).toEqual({
      type: 'file',
      id: 'file_a',
      owner: 'alice',
      owner_groups: ['engineering'],
      created_at: FILE.createdAt,
      size_bytes: 12,
      media_type: 'text/plain',
    });
  });

  it('refuses an unknown id with 404 unless unknown objects are left to the policy', async () => {
    const err = await lookUpResource(store([]), get, 'anthropic', { file_id: 'file_x' }, 'deny').catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe('SLUICE_ERR_OBJECT_NOT_FOUND');
    const facts = await lookUpResource(store([]), get, 'anthropic', { file_id: 'file_x' }, 'allow');
    expect(facts).toMatchObject({ id: 'file_x', owner: null, size_bytes: null });
  });

  it('fails closed when the ownership record cannot be read', async () => {
    const err = await lookUpResource(store([], true), get, 'anthropic', { file_id: 'file_a' }, 'allow').catch((e) => e);
    expect((err as SluiceError).code).toBe('SLUICE_ERR_STATE_UNAVAILABLE');
  });

  it('looks nothing up for operations on unowned types or without an id', async () => {
    const s = store([FILE], true);
    expect(await lookUpResource(s, operationNamed('models.get')!, 'anthropic', { model_id: 'm' }, 'deny')).toBeNull();
    expect(await lookUpResource(s, operationNamed('files.list')!, 'anthropic', {}, 'deny')).toBeNull();
  });

  it('forgets an object only after a successful delete', async () => {
    const s = store([FILE]);
    const facts = await lookUpResource(s, get, 'anthropic', { file_id: 'file_a' }, 'deny');
    await settleOwnership(s, operationNamed('files.delete')!, 'anthropic', facts, 404);
    await settleOwnership(s, get, 'anthropic', facts, 200);
    expect(s.forgotten).toEqual([]);
    await settleOwnership(s, operationNamed('files.delete')!, 'anthropic', facts, 200);
    expect(s.forgotten).toEqual(['file_a']);
  });

  it("keeps a listing's paging fields and only the subject's objects", async () => {
    const page = { data: [{ id: 'file_a' }, { id: 'file_b' }, { nope: 1 }], has_more: true, last_id: 'file_b' };
    const bob = { ...FILE, id: 'file_b', owner: 'bob' };
    expect(await filterListing(store([FILE, bob]), 'file', 'anthropic', 'alice', page)).toEqual({
      data: [{ id: 'file_a' }],
      has_more: true,
      last_id: 'file_b',
    });
  });

  it("lists Anthropic's skills for everyone, in either shape, never a custom one claiming to be", async () => {
    const mine: OwnedObject = { ...FILE, type: 'skill', id: 'skill_01mine' };
    const page = {
      data: [
        { id: 'skill_01mine', source: 'custom' },
        { id: 'skill_01theirs', source: 'anthropic' },
        { id: 'skill_01theirs2', source: { type: 'anthropic' } },
        { id: 'xlsx', source: 'anthropic' },
        { id: 'pdf', source: { type: 'anthropic' } },
        { id: 'docx', source: { type: 'custom' } },
      ],
      has_more: false,
    };
    const seen = (await filterListing(store([mine]), 'skill', 'anthropic', 'alice', page)) as typeof page;
    expect(seen.data.map((s) => s.id)).toEqual(['skill_01mine', 'xlsx', 'pdf']);
  });

  it("reads Anthropic's skills without an owner, but changes nothing of them", async () => {
    const s = store([], true);
    for (const op of ['skills.get', 'skills.versions.list', 'skills.versions.get'])
      expect(await lookUpResource(s, operationNamed(op)!, 'anthropic', { skill_id: 'xlsx' }, 'deny')).toBeNull();
    for (const op of ['skills.delete', 'skills.versions.create', 'skills.versions.delete']) {
      const err = await lookUpResource(store([]), operationNamed(op)!, 'anthropic', { skill_id: 'xlsx' }, 'deny').catch(
        (e: unknown) => e,
      );
      expect((err as SluiceError).code, op).toBe('SLUICE_ERR_OBJECT_NOT_FOUND');
    }
    // A custom skill's id is looked up whatever the operation.
    const custom = { skill_id: 'skill_01x' };
    await expect(lookUpResource(store([]), operationNamed('skills.get')!, 'anthropic', custom, 'deny')).rejects.toThrow(
      'skill not found: skill_01x',
    );
  });
});

describe('the decision contract', () => {
  it('reads not_found on a deny (false when absent)', () => {
    expect(parseDecision({ allow: false, not_found: true })).toMatchObject({ kind: 'deny', notFound: true });
    expect(parseDecision({ allow: false })).toMatchObject({ kind: 'deny', notFound: false });
  });

  it('reads limits.max_upload_bytes, the upload cap the gateway enforces', () => {
    const allow = parseDecision({ allow: true, limits: { max_upload_bytes: 5 } });
    expect(allow).toMatchObject({ kind: 'allow', limits: { maxUploadBytes: 5, maxTokens: undefined } });
  });
});
