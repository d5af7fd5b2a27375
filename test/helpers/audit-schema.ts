import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import type { AuditEvent } from '../../gateway/audit/events.ts';

let validate: (((event: unknown) => boolean) & { errors?: unknown }) | undefined;

/**
 * Every event a test reads from a gateway's audit file is checked against the documented schema
 * (docs/audit-schema.json): an event the gateway writes in a shape the docs do not describe fails
 * the test that read it.
 */
export function assertAuditSchema(events: readonly AuditEvent[]): void {
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    validate = ajv.compile(JSON.parse(readFileSync('docs/audit-schema.json', 'utf8')) as object);
  }
  for (const event of events) {
    if (!validate(event))
      throw new Error(
        `audit event ${event.kind} (seq ${event.seq}) does not match docs/audit-schema.json: ` +
          JSON.stringify(validate.errors).slice(0, 2000),
      );
  }
}
