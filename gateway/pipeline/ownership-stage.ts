import type { OwnedObject, OwnedObjectType, OwnershipStore } from '../access/ownership.ts';
import { SluiceError } from '../errors.ts';
import type { OperationSpec } from '../operations/operation-table.ts';
import type { ResourceFacts } from '../policy/input.ts';

/** Config `ownership.unknownObjects`: what an id with no recorded owner gets. */
export type UnknownObjects = 'deny' | 'allow';

/** The resource types Sluice records owners for; every other type (models) is not owned by anyone. */
const OWNED_TYPES: ReadonlySet<string> = new Set<OwnedObjectType>([
  'file',
  'skill',
  'skill_version',
  'batch',
  'container',
]);

/** The owned type an operation acts on, or undefined when the operation touches nothing anyone owns. */
export function ownedTypeOf(op: OperationSpec): OwnedObjectType | undefined {
  const type = op.resource?.type;
  return type !== undefined && OWNED_TYPES.has(type) ? (type as OwnedObjectType) : undefined;
}

/**
 * Whether a skill id names one of Anthropic's pre-built skills (`xlsx`, `pdf`…): the API gives every custom skill
 * an id starting `skill_`, and the pre-built ones short names, so a custom skill is never taken for Anthropic's.
 */
export function isAnthropicSkillId(id: string): boolean {
  return !id.startsWith('skill_');
}

/** Whether a skill object of a listing or a retrieval is one of Anthropic's (`source` a string in the beta's shape). */
export function isAnthropicSkill(item: unknown): boolean {
  const source = (item as { source?: unknown } | null)?.source;
  const kind = typeof source === 'object' && source !== null ? (source as { type?: unknown }).type : source;
  return (
    kind === 'anthropic' &&
    typeof (item as { id?: unknown }).id === 'string' &&
    isAnthropicSkillId((item as { id: string }).id)
  );
}

/** The refusal for an object the caller may not know about: the same 404 whether it exists or not. */
export function objectNotFound(type: string, id: string): SluiceError {
  return new SluiceError('SLUICE_ERR_OBJECT_NOT_FOUND', `${type} not found: ${id}`);
}

function numberOr(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function stringsOr(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function stringOr(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** The policy's view of an owned object: who owns it and what its record says of its size and media type. */
export function resourceFacts(type: string, id: string, record: OwnedObject | undefined): ResourceFacts {
  return {
    type,
    id,
    owner: record?.owner ?? null,
    owner_groups: stringsOr(record?.details.owner_groups),
    created_at: record?.createdAt ?? null,
    size_bytes: numberOr(record?.details.size_bytes),
    media_type: stringOr(record?.details.media_type),
  };
}

/**
 * The ownership stage, for an operation naming an owned object by id (its ResourceAction's
 * `idParam`): looks the object up so the policy decides with its owner. An id Sluice has no owner
 * for is refused here (404, before the policy) unless `ownership.unknownObjects` is `allow`.
 * Returns null for an operation that names no owned object.
 */
export async function lookUpResource(
  store: OwnershipStore,
  op: OperationSpec,
  connection: string,
  params: Readonly<Record<string, string>>,
  unknownObjects: UnknownObjects,
): Promise<ResourceFacts | null> {
  const type = ownedTypeOf(op);
  const idParam = op.resource?.idParam;
  if (type === undefined || idParam === undefined) return null;
  const id = params[idParam] ?? '';
  // Anthropic's pre-built skills are everyone's to read, like models; nobody may change them (the upstream says so).
  if (type === 'skill' && op.resource?.action === 'read' && isAnthropicSkillId(id)) return null;
  const record = await store.get(connection, type, id).catch((err: unknown) => {
    const why = `object ownership cannot be read: ${(err as Error).message}`;
    throw new SluiceError('SLUICE_ERR_STATE_UNAVAILABLE', why, { cause: err });
  });
  if (record === undefined && unknownObjects === 'deny') throw objectNotFound(type, id);
  return resourceFacts(type, id, record);
}

/**
 * After the upstream answered a call on an owned object successfully: a deleted object is
 * forgotten, so its id cannot be used (or claimed) again through Sluice.
 */
export async function settleOwnership(
  store: OwnershipStore,
  op: OperationSpec,
  connection: string,
  resource: ResourceFacts | null,
  status: number,
): Promise<void> {
  const type = ownedTypeOf(op);
  if (type === undefined || resource === null || status >= 300) return;
  if (op.resource?.action === 'delete') await store.forget(connection, type, resource.id);
}

/**
 * Records `identity` as the owner of the object a creation answered with (its `id`), with the
 * owner's groups (for a policy that shares within a group) and `details`. An answer without an id
 * is the upstream's problem, not an object: a 502, so no caller holds an id Sluice has no owner for.
 */
export async function recordCreated(
  store: OwnershipStore,
  type: OwnedObjectType,
  connection: string,
  identity: { readonly sub: string; readonly groups: readonly string[] },
  body: unknown,
  details: Readonly<Record<string, unknown>>,
): Promise<OwnedObject> {
  const id = (body as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || id === '') {
    throw new SluiceError('SLUICE_ERR_UPSTREAM_BAD_RESPONSE', `the upstream created a ${type} but sent no id`);
  }
  const object: OwnedObject = {
    type,
    id,
    connection,
    owner: identity.sub,
    createdAt: new Date().toISOString(),
    details: { ...details, owner_groups: [...identity.groups] },
  };
  const recorded = await store.record(object).catch((err: unknown) => {
    const why = `the new ${type}'s owner cannot be recorded: ${(err as Error).message}`;
    throw new SluiceError('SLUICE_ERR_STATE_UNAVAILABLE', why, { cause: err });
  });
  // First owner wins: an id already claimed by another subject (an upstream reusing ids) is not handed over.
  if (recorded.owner !== identity.sub) throw objectNotFound(type, id);
  return recorded;
}

/**
 * Keeps, of a listing's `data`, the objects `subject` owns, and Anthropic's skills in a skill listing (they are
 * everyone's): the upstream lists the whole organisation's objects (one key for everyone). The paging fields
 * (`first_id`, `last_id`, `has_more`, `next_page`) stay the upstream's, so cursors keep working; a page may hold
 * fewer objects than `limit`, or none, while `has_more` is true.
 */
export async function filterListing(
  store: OwnershipStore,
  type: OwnedObjectType,
  connection: string,
  subject: string,
  body: unknown,
): Promise<unknown> {
  const page = body as { data?: unknown } | null;
  if (typeof page !== 'object' || page === null || !Array.isArray(page.data)) return body;
  const ids = page.data.flatMap((item: { id?: unknown }) => (typeof item?.id === 'string' ? [item.id] : []));
  const owned = await store.getMany(connection, type, ids);
  const data = page.data.filter((item: { id?: unknown }) => {
    const id = typeof item?.id === 'string' ? item.id : undefined;
    if (type === 'skill' && isAnthropicSkill(item)) return true;
    return id !== undefined && owned.get(id)?.owner === subject;
  });
  return { ...page, data };
}

/**
 * The reference check of a Messages request: each object it names by id (objectReferences) with
 * its owner, for the policy. An id nobody recorded is refused here (404, before the policy) unless
 * `ownership.unknownObjects` is `allow`, as for an object a route names.
 */
export async function lookUpReferences(
  store: OwnershipStore,
  references: readonly { readonly type: OwnedObjectType; readonly id: string }[],
  connection: string,
  unknownObjects: UnknownObjects,
): Promise<ResourceFacts[]> {
  const facts: ResourceFacts[] = [];
  for (const type of new Set(references.map((r) => r.type))) {
    const ids = references.filter((r) => r.type === type).map((r) => r.id);
    const records = await store.getMany(connection, type, ids).catch((err: unknown) => {
      const why = `object ownership cannot be read: ${(err as Error).message}`;
      throw new SluiceError('SLUICE_ERR_STATE_UNAVAILABLE', why, { cause: err });
    });
    for (const id of ids) {
      const record = records.get(id);
      if (record === undefined && unknownObjects === 'deny') throw objectNotFound(type, id);
      facts.push(resourceFacts(type, id, record));
    }
  }
  return facts;
}

/**
 * After a Messages answer: the files code execution wrote and the container it ran in become the
 * caller's, so the next call (a download, a message continuing the container) is theirs to make.
 */
export async function recordAnswerObjects(
  store: OwnershipStore,
  created: readonly { readonly type: OwnedObjectType; readonly id: string }[],
  connection: string,
  owner: { readonly sub: string; readonly groups: readonly string[] },
): Promise<void> {
  const createdAt = new Date().toISOString();
  for (const object of created) {
    await store.record({
      type: object.type,
      id: object.id,
      connection,
      owner: owner.sub,
      createdAt,
      details: { owner_groups: [...owner.groups], source: 'message' },
    });
  }
}

/**
 * The key a skill version is addressed by in an answer: the beta's `version` timestamp (a version object) or
 * `latest_version` (a skill), else the current API's `id` (a version object) or `latest_version_id` (a skill).
 */
function skillVersionKey(answer: Record<string, unknown>, of: 'skill' | 'version'): string | undefined {
  const keys = of === 'skill' ? ['latest_version', 'latest_version_id'] : ['version', 'id'];
  for (const key of keys) if (typeof answer[key] === 'string' && answer[key] !== '') return answer[key];
  return undefined;
}

/**
 * Records `owner` as the owner of the skill version an answer created (a new skill's first version, or a version
 * added to a skill), under the key its routes address it by, with the skill it belongs to. Its routes are
 * authorised on the skill's owner; this record says who made each version.
 */
export async function recordSkillVersion(
  store: OwnershipStore,
  connection: string,
  owner: { readonly sub: string; readonly groups: readonly string[] },
  answer: unknown,
  of: 'skill' | 'version',
): Promise<void> {
  if (typeof answer !== 'object' || answer === null) return;
  const fields = answer as Record<string, unknown>;
  const key = skillVersionKey(fields, of);
  const skillId = of === 'skill' ? fields.id : fields.skill_id;
  if (key === undefined || typeof skillId !== 'string') return;
  await store
    .record({
      type: 'skill_version',
      id: `${skillId}/${key}`,
      connection,
      owner: owner.sub,
      createdAt: new Date().toISOString(),
      details: { skill_id: skillId, owner_groups: [...owner.groups] },
    })
    .catch((err: unknown) => {
      const why = `the new skill version's owner cannot be recorded: ${(err as Error).message}`;
      throw new SluiceError('SLUICE_ERR_STATE_UNAVAILABLE', why, { cause: err });
    });
}

/** After a skill version was deleted: its record is forgotten, as a deleted object's is. */
export async function forgetSkillVersion(
  store: OwnershipStore,
  connection: string,
  params: Readonly<Record<string, string>>,
): Promise<void> {
  await store.forget(connection, 'skill_version', `${params.skill_id ?? ''}/${params.version ?? ''}`);
}
