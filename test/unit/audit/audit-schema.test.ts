import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import { AUDIT_SCHEMA_FILE, auditEventSchema } from '../../../scripts/audit-event-schema.ts';
import { assertAuditSchema } from '../../helpers/audit-schema.ts';

const access = {
  schema_version: 2,
  event_id: 'e',
  content: 'masked',
  seq: 1,
  prev_hash: 'h',
  instance_id: 'i',
  kind: 'access',
  object: 'session',
  session_id: 's',
  state: 'opened',
  timestamp: '2026-12-04T00:00:00.000Z',
  subject: 'alice',
  connection: 'anthropic',
  cause: null,
  actor: null,
} as unknown as AuditEvent;

describe('audit event schema', () => {
  it("is committed exactly as generated from the gateway's AuditEvent type", () => {
    const committed = JSON.parse(readFileSync(AUDIT_SCHEMA_FILE, 'utf8')) as unknown;
    expect(committed, 'run: node --import tsx scripts/gen-audit-schema.ts').toEqual(auditEventSchema());
  });

  it('accepts a well-formed event and refuses a misspelt field, a missing one and an unknown kind', () => {
    expect(() => assertAuditSchema([access])).not.toThrow();
    expect(() => assertAuditSchema([{ ...access, sesion_id: 's' } as unknown as AuditEvent])).toThrow(/does not match/);
    const { subject: _dropped, ...noSubject } = access as unknown as Record<string, unknown>;
    expect(() => assertAuditSchema([noSubject as unknown as AuditEvent])).toThrow(/does not match/);
    expect(() => assertAuditSchema([{ ...access, kind: 'session' } as unknown as AuditEvent])).toThrow(
      /does not match/,
    );
  });
});
