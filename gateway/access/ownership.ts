/** The kinds of upstream object Sluice records an owner for. */
export type OwnedObjectType = 'file' | 'skill' | 'skill_version' | 'batch' | 'container';

/**
 * An object created through Sluice and the subject that created it. The upstream sees one
 * organisation key for everyone, so this record is the only place ownership exists.
 */
export interface OwnedObject {
  readonly type: OwnedObjectType;
  readonly id: string;
  readonly connection: string;
  /** The creating subject (issuer-namespaced, like every subject). */
  readonly owner: string;
  readonly createdAt: string;
  /** Facts worth keeping for the policy and listings (filename, size, sha256, parent skill…). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** Where ownership lives, shared by every instance. */
export interface OwnershipStore {
  /** Records `object`; the first owner wins (a second record of the same id is ignored). Returns the owner's record. */
  record(object: OwnedObject): Promise<OwnedObject>;
  get(connection: string, type: OwnedObjectType, id: string): Promise<OwnedObject | undefined>;
  /** The records of `ids` (deleted ones excluded), by id. */
  getMany(connection: string, type: OwnedObjectType, ids: readonly string[]): Promise<Map<string, OwnedObject>>;
  /** Marks an object deleted: it is no longer found, and its id cannot be claimed again. */
  forget(connection: string, type: OwnedObjectType, id: string): Promise<void>;
  close(): Promise<void>;
}
