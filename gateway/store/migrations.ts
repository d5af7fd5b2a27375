import { SluiceError } from '../errors.ts';
import type { StateDb } from './state-db.ts';

/** One step of the schema: applied once, in order, and recorded in sluice_schema. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The control-plane schema. Append a migration to change it; never edit an applied one
 * (databases in the field have run it already). Times are timestamptz; every row a policy or
 * an instance races on has its state in a column, so transitions are single conditional UPDATEs.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'approvals, sessions, grants, console sign-ins, object ownership, usage counters',
    sql: `
      -- Human approvals: the state machine in a column, the record as it was created in doc.
      CREATE TABLE approvals (
        id text PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'used')),
        subject text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        doc jsonb NOT NULL
      );
      CREATE INDEX approvals_open ON approvals (expires_at) WHERE state IN ('pending', 'approved');
      CREATE INDEX approvals_ended ON approvals (updated_at) WHERE state IN ('denied', 'expired', 'used');

      -- Just-in-time sessions: at most one active session per subject and connection.
      CREATE TABLE jit_sessions (
        id text PRIMARY KEY,
        subject text NOT NULL,
        connection text NOT NULL,
        state text NOT NULL CHECK (state IN ('active', 'revoked')),
        opened_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        idle_timeout_seconds integer NOT NULL,
        revoked_at timestamptz,
        revoked_cause text CHECK (revoked_cause IN ('idle', 'admin')),
        revoked_by text
      );
      CREATE UNIQUE INDEX jit_sessions_one_active ON jit_sessions (subject, connection) WHERE state = 'active';
      CREATE INDEX jit_sessions_latest ON jit_sessions (subject, connection, opened_at DESC);
      CREATE INDEX jit_sessions_revoked ON jit_sessions (revoked_at) WHERE state = 'revoked';

      -- Time-bounded access grants.
      CREATE TABLE grants (
        id text PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('requested', 'approved', 'denied', 'revoked', 'expired')),
        subject text NOT NULL,
        requested_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        doc jsonb NOT NULL
      );
      CREATE INDEX grants_subject ON grants (subject);

      -- Console sign-ins, so a console behind a load balancer needs no sticky sessions. The id is
      -- the sha256 of the cookie value: a database dump cannot be replayed as a cookie.
      CREATE TABLE console_sessions (
        id text PRIMARY KEY,
        expires_at timestamptz NOT NULL,
        doc jsonb NOT NULL
      );
      -- Sign-ins in flight (OIDC state → PKCE verifier), taken exactly once by the callback.
      CREATE TABLE console_logins (
        state text PRIMARY KEY,
        expires_at timestamptz NOT NULL,
        doc jsonb NOT NULL
      );

      -- Objects created through Sluice (files, skills, skill versions, batches, containers) and who
      -- owns them: the upstream sees one organisation key, so the gateway keeps ownership.
      CREATE TABLE owned_objects (
        connection text NOT NULL,
        object_type text NOT NULL,
        object_id text NOT NULL,
        owner text NOT NULL,
        created_at timestamptz NOT NULL,
        deleted_at timestamptz,
        details jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (connection, object_type, object_id)
      );
      CREATE INDEX owned_objects_owner ON owned_objects (connection, object_type, owner, created_at DESC);

      -- Usage per budget key and window: reserved before a call goes upstream, settled after.
      -- window_start is the start of the fixed window the call falls in (e.g. the month).
      CREATE TABLE usage_counters (
        budget_key text NOT NULL,
        window_seconds integer NOT NULL,
        window_start timestamptz NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        tokens bigint NOT NULL DEFAULT 0,
        cost_micro_usd bigint NOT NULL DEFAULT 0,
        reserved_tokens bigint NOT NULL DEFAULT 0,
        reserved_cost_micro_usd bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (budget_key, window_seconds, window_start)
      );
    `,
  },
  {
    version: 2,
    name: 'message batch requests: the decision and response masking of each custom_id',
    sql: `
      -- One row per request of a Message Batch created through Sluice: the decision that allowed
      -- it and what its result's masking needs (entity types and style, never an entity value).
      CREATE TABLE batch_requests (
        connection text NOT NULL,
        batch_id text NOT NULL,
        custom_id text NOT NULL,
        decision_id text NOT NULL,
        response_mask jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (connection, batch_id, custom_id)
      );
    `,
  },
  {
    version: 3,
    name: 'usage counters: the limits their budget had; batch requests: their budgets and settlement',
    sql: `
      -- The limits the policy last set for the budget (null: no limit of that kind), written with
      -- each reservation, so /metrics can say which budgets are nearest their limit.
      ALTER TABLE usage_counters ADD COLUMN limit_tokens bigint;
      ALTER TABLE usage_counters ADD COLUMN limit_requests bigint;
      ALTER TABLE usage_counters ADD COLUMN limit_cost_micro_usd bigint;
      CREATE INDEX usage_counters_window_start ON usage_counters (window_start);

      -- A batch request's budgets (its decision's limits.budgets) and model, settled with the usage
      -- its result reports when the results are first read through Sluice (settled_at: once only).
      ALTER TABLE batch_requests ADD COLUMN budgets jsonb NOT NULL DEFAULT '[]';
      ALTER TABLE batch_requests ADD COLUMN model text;
      ALTER TABLE batch_requests ADD COLUMN settled_at timestamptz;
    `,
  },
];

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

const SCHEMA_TABLE = `CREATE TABLE IF NOT EXISTS sluice_schema (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * Every statement that brings an empty database to the newest schema, as `migrate` would run
 * them: for the template new embedded databases are unpacked from, made by a process that does
 * not load this module (gateway/bin/pglite-init.mjs).
 */
export function freshSchemaStatements(migrations: readonly Migration[] = MIGRATIONS): string[] {
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
  return [
    SCHEMA_TABLE,
    ...[...migrations]
      .sort((a, b) => a.version - b.version)
      .flatMap((m) => [
        ...splitStatements(m.sql),
        `INSERT INTO sluice_schema (version, name) VALUES (${m.version}, ${quote(m.name)})`,
      ]),
  ];
}

/**
 * Applies the migrations the database lacks, in one transaction under an advisory lock so two
 * instances starting together migrate once. Refuses a database migrated by a newer Sluice:
 * running old code on a newer schema could misread or overwrite what it does not understand.
 */
export async function migrate(db: StateDb, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('sluice_schema'))`);
    await tx.query(SCHEMA_TABLE);
    const [row] = await tx.query<{ version: number | null }>('SELECT max(version) AS version FROM sluice_schema');
    const current = row?.version ?? 0;
    if (current > known) {
      throw new SluiceError(
        'SLUICE_ERR_START_STATE_SCHEMA_NEWER',
        `the state database has schema version ${current}, this Sluice knows up to ${known}: ` +
          'upgrade Sluice (or restore the backup taken before the upgrade)',
      );
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      // Statements one by one: the extended protocol (parameters) runs a single statement.
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO sluice_schema (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
  });
}

/** Splits a migration on the `;` that end its statements (migrations hold no procedural code). */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
