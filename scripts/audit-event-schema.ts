import { createGenerator } from 'ts-json-schema-generator';

/** Where the generated schema is committed: the reference docs/audit.md points to. */
export const AUDIT_SCHEMA_FILE = 'docs/audit-schema.json';

/**
 * The JSON Schema of an audit event (gateway/audit/events.ts `AuditEvent`, schema version 2).
 * Generated from the TypeScript type the writer compiles against, so the documented shape cannot
 * drift from what is written; a test validates the events a running gateway writes against it.
 */
export function auditEventSchema(): object {
  const generator = createGenerator({
    path: 'gateway/audit/events.ts',
    tsconfig: 'tsconfig.json',
    type: 'AuditEvent',
    expose: 'export',
    topRef: true,
    additionalProperties: false,
    skipTypeCheck: true,
  });
  return generator.createSchema('AuditEvent');
}
