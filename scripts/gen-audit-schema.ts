/**
 * Writes docs/audit-schema.json, the JSON Schema of the audit events, from the gateway's own
 * AuditEvent type (a unit test fails when the committed file differs).
 * Run: node --import tsx scripts/gen-audit-schema.ts
 */
import { writeFileSync } from 'node:fs';
import { AUDIT_SCHEMA_FILE, auditEventSchema } from './audit-event-schema.ts';

writeFileSync(AUDIT_SCHEMA_FILE, `${JSON.stringify(auditEventSchema(), null, 2)}\n`);
console.log(`wrote ${AUDIT_SCHEMA_FILE}`);
