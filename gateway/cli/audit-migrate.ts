/**
 * `sluice audit migrate --file OLD --out NEW`: a schema-1 audit file rewritten as schema 2. The
 * old file's chains are verified first (a broken one is refused: migrating it would launder the
 * break). The new file is one new chain: first an `audit_migration` event naming the schema-1
 * heads it continues and the old file's sha256, then every schema-1 event in its schema-2 shape
 * (kinds renamed, the decision's prompt erased to its digest). Schema-2 lines already in the file
 * (written after an upgrade) are copied after them as they are: their own chains stay intact.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { AuditLog } from '../audit/audit-log.ts';
import type { AuditDraft } from '../audit/event-content.ts';
import { FileAuditSink } from '../audit/file-sink.ts';
import { formatReport, verifyChain } from './audit-verify.ts';

/** What a migration did. */
export interface MigrationReport {
  readonly migrated: number;
  readonly copied: number;
  readonly v1Heads: readonly string[];
  readonly instanceId: string;
}

const CHAIN_FIELDS = ['schema_version', 'event_id', 'seq', 'prev_hash', 'instance_id', 'content'];

/** A schema-1 event's body in its schema-2 shape (AuditLog erases a decision's prompt text). */
function upgraded(v1: Record<string, unknown>): AuditDraft {
  const body: Record<string, unknown> = Object.fromEntries(
    Object.entries(v1).filter(([k]) => !CHAIN_FIELDS.includes(k)),
  );
  if (body.kind === 'session') body.kind = 'exchange';
  else if (body.kind === 'grant') Object.assign(body, { kind: 'access', object: 'grant' });
  else if (body.kind === 'access') body.object = 'session';
  else if (body.kind === 'decision') {
    const input = body.input as { request?: { text?: unknown; findings?: unknown } } | null;
    const text = input?.request?.text;
    // A prompt that was over the content budget was kept as a marker with the whole's size and sha256.
    if (input?.request && typeof text === 'object' && text !== null && 'truncated' in text) {
      const t = text as unknown as { bytes: number; sha256: string };
      input.request.text = { sha256: t.sha256, length: t.bytes, findings: input.request.findings ?? {} };
    }
  }
  return body as unknown as AuditDraft;
}

/** Migrates `from` into the new file `to` (which must not exist). */
export async function migrateAuditFile(from: string, to: string, now = new Date()): Promise<MigrationReport> {
  if (existsSync(to)) throw new Error(`${to} exists: migrate writes a new file`);
  const raw = await readFile(from);
  const lines = raw
    .toString('utf8')
    .split('\n')
    .map((line, i) => ({ line, stream: from, at: `line ${i + 1}` }))
    .filter((l) => l.line !== '');
  const report = verifyChain(lines);
  if (report.problems.length > 0) throw new Error(`${from} does not verify; not migrated:\n${formatReport(report)}`);
  const parsed = lines.map((l) => JSON.parse(l.line) as Record<string, unknown>);
  const v1 = parsed.filter((e) => e.schema_version === 1);
  const v1Instances = new Set(v1.map((e) => e.instance_id));
  const v1Heads = report.instances.filter((i) => v1Instances.has(i.instance_id)).map((i) => i.head);
  const instanceId = `migrated-${randomUUID()}`;
  const sink = new FileAuditSink(to, { sync: 'every' });
  const log = new AuditLog([sink], { instanceId });
  log.record({
    kind: 'audit_migration',
    timestamp: now.toISOString(),
    subject: null,
    from_schema_version: 1,
    v1_heads: v1Heads,
    source_sha256: createHash('sha256').update(raw).digest('hex'),
  });
  for (const event of v1) log.record(upgraded(event));
  await log.close();
  const kept = lines.filter((_, i) => parsed[i]!.schema_version !== 1).map((l) => `${l.line}\n`);
  if (kept.length > 0) {
    await appendFile(to, kept.join(''));
  }
  return { migrated: v1.length, copied: kept.length, v1Heads, instanceId };
}
