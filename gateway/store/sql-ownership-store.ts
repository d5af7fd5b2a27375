import type { OwnedObject, OwnedObjectType, OwnershipStore } from '../access/ownership.ts';
import { iso, type StateDb } from './state-db.ts';

interface Row {
  readonly connection: string;
  readonly object_type: OwnedObjectType;
  readonly object_id: string;
  readonly owner: string;
  readonly created_at: Date;
  readonly details: Record<string, unknown>;
}

const COLUMNS = 'connection, object_type, object_id, owner, created_at, details';

/** Object ownership in the state database: one row per (connection, type, id), first owner wins. */
export class SqlOwnershipStore implements OwnershipStore {
  constructor(private readonly db: StateDb) {}

  async record(object: OwnedObject): Promise<OwnedObject> {
    await this.db.query(
      `INSERT INTO owned_objects (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (connection, object_type, object_id) DO NOTHING`,
      [object.connection, object.type, object.id, object.owner, object.createdAt, JSON.stringify(object.details)],
    );
    const [row] = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM owned_objects WHERE connection = $1 AND object_type = $2 AND object_id = $3`,
      [object.connection, object.type, object.id],
    );
    return row ? toObject(row) : object;
  }

  async get(connection: string, type: OwnedObjectType, id: string): Promise<OwnedObject | undefined> {
    return (await this.getMany(connection, type, [id])).get(id);
  }

  async getMany(connection: string, type: OwnedObjectType, ids: readonly string[]): Promise<Map<string, OwnedObject>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM owned_objects
       WHERE connection = $1 AND object_type = $2 AND object_id = ANY($3::text[]) AND deleted_at IS NULL`,
      [connection, type, [...ids]],
    );
    return new Map(rows.map((r) => [r.object_id, toObject(r)]));
  }

  async forget(connection: string, type: OwnedObjectType, id: string): Promise<void> {
    await this.db.query(
      `UPDATE owned_objects SET deleted_at = now()
       WHERE connection = $1 AND object_type = $2 AND object_id = $3 AND deleted_at IS NULL`,
      [connection, type, id],
    );
  }

  async close(): Promise<void> {}
}

function toObject(row: Row): OwnedObject {
  return {
    type: row.object_type,
    id: row.object_id,
    connection: row.connection,
    owner: row.owner,
    createdAt: iso(row.created_at)!,
    details: row.details,
  };
}
