import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, CHAIN_GENESIS } from '../../../gateway/audit/audit-log.ts';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import { FileAuditSink } from '../../../gateway/audit/file-sink.ts';
import { migrateAuditFile } from '../../../gateway/cli/audit-migrate.ts';
import { verifyChain } from '../../../gateway/cli/audit-verify.ts';
import { assertAuditSchema } from '../../helpers/audit-schema.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PROMPT = 'Send the contract to [EMAIL] by Friday.';

/** Schema-1 lines as the gateway wrote them before schema 2: one chain, the prompt in the decision. */
function v1Lines(instance: string): string[] {
  const at = '2026-11-01T10:00:00.000Z';
  const bodies = [
    {
      kind: 'decision',
      decision_id: 'd1',
      path: 'sluice/decision',
      input: { request: { operation: 'messages.create', text: PROMPT, findings: { EMAIL: 1 } } },
      result: { allow: true },
      bundles: {},
      timestamp: at,
      labels: {},
      requested_by: '127.0.0.1',
      metrics: {},
      outcome: 'mask',
      subject: 'alice',
      reasons: [],
      session_id: null,
      approval: null,
      masks_applied: [],
    },
    {
      kind: 'session',
      decision_id: 'd1',
      timestamp: at,
      subject: 'alice',
      session_id: null,
      connection: 'anthropic',
      operation: 'messages.create',
      outcome: 'mask',
      masks_applied: [],
      request: { messages: [{ role: 'user', content: PROMPT }] },
      response: null,
      timings_ms: {},
    },
    {
      kind: 'grant',
      grant_id: 'g1',
      state: 'approved',
      timestamp: at,
      subject: 'alice',
      connection: 'anthropic',
      actor: 'bob',
      reason: 'incident',
      comment: null,
      expires_at: null,
    },
    {
      kind: 'access',
      session_id: 's1',
      state: 'opened',
      timestamp: at,
      subject: 'alice',
      connection: 'anthropic',
      cause: null,
      actor: null,
    },
  ];
  let prev = CHAIN_GENESIS;
  return bodies.map((body, i) => {
    const line = JSON.stringify({
      schema_version: 1,
      event_id: `e${i}`,
      seq: i + 1,
      prev_hash: prev,
      instance_id: instance,
      ...body,
    });
    prev = sha256(line);
    return line;
  });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-migrate-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const read = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line, i) => ({ line, stream: file, at: `line ${i + 1}` }));

describe('sluice audit migrate', () => {
  it('rewrites schema 1 as one new chain that names the heads it continues, and it verifies', async () => {
    const old = join(dir, 'old.jsonl');
    await writeFile(old, `${v1Lines('inst-1').join('\n')}\n`);
    // After an upgrade the same file goes on in schema 2, on a chain of its own.
    const log = new AuditLog([new FileAuditSink(old)], 'inst-2');
    log.record({
      kind: 'access',
      object: 'session',
      session_id: 's2',
      state: 'opened',
      timestamp: '2026-11-02T10:00:00.000Z',
      subject: 'bob',
      connection: 'anthropic',
      cause: null,
      actor: null,
    });
    await log.close();
    const oldReport = verifyChain(await read(old));
    expect(oldReport.problems).toEqual([]);

    const out = join(dir, 'new.jsonl');
    const report = await migrateAuditFile(old, out);
    expect(report).toMatchObject({ migrated: 4, copied: 1 });
    const lines = await read(out);
    const verified = verifyChain(lines);
    expect(verified.problems).toEqual([]);
    const events = lines.map((l) => JSON.parse(l.line) as AuditEvent);
    // The fixture's decision input is abbreviated (a real one has every PolicyInput field): the rest must validate.
    assertAuditSchema(events.filter((e) => e.kind !== 'decision'));
    const v1Head = oldReport.instances.find((i) => i.instance_id === 'inst-1')!.head;
    expect(events[0]).toMatchObject({
      kind: 'audit_migration',
      seq: 1,
      from_schema_version: 1,
      v1_heads: [v1Head],
      source_sha256: sha256(await readFile(old, 'utf8')),
    });
    expect(events.slice(1, 5).map((e) => [e.kind, 'object' in e ? e.object : null])).toEqual([
      ['decision', null],
      ['exchange', null],
      ['access', 'grant'],
      ['access', 'session'],
    ]);
    const decision = events[1] as Extract<AuditEvent, { kind: 'decision' }>;
    expect(decision.input!.request.text).toEqual({
      sha256: sha256(PROMPT),
      length: PROMPT.length,
      findings: { EMAIL: 1 },
    });
    expect(lines[1]!.line).not.toContain('Send the contract');
    expect(events[5]).toMatchObject({ instance_id: 'inst-2', schema_version: 2, seq: 1 });
  });

  it('refuses a schema-1 file whose chain is broken, and never overwrites a file', async () => {
    const old = join(dir, 'old.jsonl');
    const lines = v1Lines('inst-1');
    await writeFile(old, `${[lines[0], lines[2], lines[3]].join('\n')}\n`);
    await expect(migrateAuditFile(old, join(dir, 'new.jsonl'))).rejects.toThrow(/does not verify/);
    await writeFile(old, `${lines.join('\n')}\n`);
    await expect(migrateAuditFile(old, old)).rejects.toThrow(/exists/);
  });
});
