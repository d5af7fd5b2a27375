/**
 * A torn last line (a crash or a full disk mid-write) is moved aside at start and recorded in the
 * chain, so `audit verify` passes and shows it instead of failing on a line that is not JSON.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { FileAuditSink } from '../../../gateway/audit/file-sink.ts';
import { openAuditLog } from '../../../gateway/audit/open-audit.ts';
import { formatReport, verifyChain } from '../../../gateway/cli/audit-verify.ts';

let dir: string;
afterEach(async () => rm(dir, { recursive: true, force: true }));

const readLines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` }));

describe('a torn last line at start', () => {
  it('is moved to <file>.torn, recorded as audit_recovery, and the file verifies', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-torn-'));
    const file = join(dir, 'audit.jsonl');
    // A first run writes two whole events, then dies in the middle of the third.
    const first = new AuditLog([new FileAuditSink(file)]);
    for (const id of ['a', 'b'])
      first.record({ kind: 'access', timestamp: new Date().toISOString(), session_id: id } as never);
    await first.close();
    const torn = '{"schema_version":1,"event_id":"half-writ';
    await writeFile(file, torn, { flag: 'a' });

    const second = await openAuditLog({
      stateDir: dir,
      audit: { file: { path: file }, onWriteFailure: 'fail-closed' },
    });
    await second.close();
    expect(await readFile(`${file}.torn`, 'utf8')).toBe(torn);
    const lines = await readLines(file);
    const recovery = JSON.parse(lines.at(-1)!.line) as Record<string, unknown>;
    expect(recovery).toMatchObject({ kind: 'audit_recovery', file, torn_bytes: torn.length, moved_to: `${file}.torn` });
    expect(recovery.torn_sha256).toBe(createHash('sha256').update(torn).digest('hex'));
    const report = verifyChain(lines);
    expect(report.problems).toEqual([]);
    expect(report.recoveries).toHaveLength(1);
    expect(formatReport(report)).toMatch(
      /recovered: audit\.jsonl line 3: a torn last line of 41 bytes was moved to .*audit\.jsonl\.torn/,
    );
  });

  it('a last line that ends in a newline but is not JSON (zeros after a power cut) is moved aside too', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-torn-'));
    const file = join(dir, 'audit.jsonl');
    const first = new AuditLog([new FileAuditSink(file)]);
    first.record({ kind: 'access', timestamp: new Date().toISOString() } as never);
    await first.close();
    const garbage = Buffer.concat([Buffer.alloc(300), Buffer.from('\n')]);
    await writeFile(file, garbage, { flag: 'a' });
    // A second recovery appends its fragment to the same .torn file.
    await writeFile(`${file}.torn`, 'earlier fragment');

    const config = { stateDir: dir, audit: { file: { path: file }, onWriteFailure: 'fail-closed' as const } };
    await (await openAuditLog(config)).close();
    expect(await readFile(`${file}.torn`)).toEqual(Buffer.concat([Buffer.from('earlier fragment'), garbage]));
    const lines = await readLines(file);
    expect(lines.map((l) => JSON.parse(l.line).kind)).toEqual(['access', 'audit_recovery']);
    const sha256 = createHash('sha256').update(garbage).digest('hex');
    expect(JSON.parse(lines[1]!.line)).toMatchObject({ torn_bytes: 301, reason: 'not JSON', torn_sha256: sha256 });
    const report = verifyChain(lines);
    expect(report.problems).toEqual([]);
    const shown = /recovered: audit\.jsonl line 2: a torn last line of 301 bytes .*\(not JSON\)/;
    expect(formatReport(report)).toMatch(shown);
  });

  it('a file ending in a newline is left alone', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-torn-'));
    const file = join(dir, 'audit.jsonl');
    const log = await openAuditLog({ stateDir: dir, audit: { file: { path: file }, onWriteFailure: 'fail-closed' } });
    log.record({ kind: 'access', timestamp: new Date().toISOString() } as never);
    await log.close();
    // A blank last line is no tear: nothing is recorded for it.
    await writeFile(file, '\n', { flag: 'a' });
    const again = await openAuditLog({ stateDir: dir, audit: { file: { path: file }, onWriteFailure: 'fail-closed' } });
    await again.close();
    expect((await readLines(file)).map((l) => JSON.parse(l.line).kind)).toEqual(['access']);
  });
});
