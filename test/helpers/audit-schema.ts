import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import type { AuditEvent } from '../../gateway/audit/events.ts';

interface Validators {
  readonly any: ValidateFunction;
  /** One validator per event kind (the schema's anyOf entry for it), for errors that name the kind's own fields. */
  readonly byKind: Map<string, ValidateFunction>;
}

let validators: Validators | undefined;

function compile(): Validators {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const schema = JSON.parse(readFileSync('docs/audit-schema.json', 'utf8')) as {
    definitions: Record<string, { anyOf?: { properties?: { kind?: { const?: string } } }[] }>;
  };
  const any = ajv.compile(schema);
  const byKind = new Map<string, ValidateFunction>();
  for (const variant of schema.definitions.AuditEvent?.anyOf ?? []) {
    const kind = variant.properties?.kind?.const;
    if (kind && !byKind.has(kind)) byKind.set(kind, ajv.compile({ ...variant, definitions: schema.definitions }));
  }
  return { any, byKind };
}

/**
 * Every event a test reads from a gateway's audit file is checked against the documented schema
 * (docs/audit-schema.json): an event the gateway writes in a shape the docs do not describe fails
 * the test that read it.
 */
export function assertAuditSchema(events: readonly AuditEvent[]): void {
  validators ??= compile();
  for (const event of events) {
    if (validators.any(event as unknown)) continue;
    const own = validators.byKind.get(event.kind);
    own?.(event);
    const errors = (own?.errors ?? validators.any.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`,
    );
    throw new Error(
      `audit event ${event.kind} (seq ${event.seq}) does not match docs/audit-schema.json: ${errors.join('; ')}`,
    );
  }
}
