import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import type { AuditSink } from '../../../gateway/audit/sink.ts';
import { formatReport, parseChainHead, verifyChain, type ReadLine } from '../../../gateway/cli/audit-verify.ts';

/** A real chain from AuditLog, captured line by line. */
function chain(n: number, instance = 'inst-a'): string[] {
  const lines: string[] = [];
  const sink: AuditSink = {
    name: 'mem',
    write: (_e: AuditEvent, line: string) => void lines.push(line),
    flush: async () => {},
    close: async () => {},
  };
  const log = new AuditLog([sink], instance);
  for (let i = 0; i < n; i++) {
    log.record({
      kind: 'exchange',
      decision_id: `d${i}`,
      timestamp: new Date(0).toISOString(),
      subject: 'alice',
      session_id: null,
      connection: 'c',
      operation: 'messages.create',
      outcome: 'allow' as const,
      masks_applied: [],
      request: { i },
      response: null,
      timings_ms: {},
    });
  }
  log.head(); // writes what is queued
  return lines;
}
const asFile = (lines: string[]): ReadLine[] =>
  lines.map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` }));
const sha256 = (line: string): string => createHash('sha256').update(line).digest('hex');
const kinds = (lines: string[]) => verifyChain(asFile(lines)).problems.map((p) => p.kind);

describe('sluice audit verify', () => {
  it('passes an intact chain, interleaved instances and exact duplicates', () => {
    const a = chain(5, 'inst-a');
    const b = chain(3, 'inst-b');
    const report = verifyChain(asFile([a[0]!, b[0]!, a[1]!, a[2]!, b[1]!, a[2]!, a[3]!, b[2]!, a[4]!]));
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ events: 8, duplicates: 1 });
    expect(report.instances).toEqual([
      { instance_id: 'inst-a', first_seq: 1, last_seq: 5, events: 5, head: `inst-a:5:${sha256(a[4]!)}` },
      { instance_id: 'inst-b', first_seq: 1, last_seq: 3, events: 3, head: `inst-b:3:${sha256(b[2]!)}` },
    ]);
    expect(formatReport(report)).toMatch(/^OK: 8 events from 2 instance\(s\), 1 exact duplicate/);
  });

  it('finds a deleted event as a gap', () => {
    const lines = chain(6);
    lines.splice(2, 2);
    const report = verifyChain(asFile(lines));
    expect(report.problems).toEqual([{ kind: 'gap', message: expect.stringContaining('seq 3..4 missing') }]);
    expect(kinds(chain(4).slice(1))).toEqual(['gap']); // the start of the chain is gone
  });

  it(
    'with a recorded head, finds what the chain alone cannot: an edit of the last event, ' + 'and removed last events',
    () => {
      const lines = chain(5);
      const head = parseChainHead(verifyChain(asFile(lines)).instances[0]!.head);
      expect(head).toEqual({ instanceId: 'inst-a', seq: 5, hash: sha256(lines[4]!) });
      expect(verifyChain(asFile(lines), [head]).problems).toEqual([]);

      const lastEdited = [...lines.slice(0, 4), lines[4]!.replace('"alice"', '"mallory"')];
      expect(kinds(lastEdited)).toEqual([]); // invisible without the head
      expect(verifyChain(asFile(lastEdited), [head]).problems).toEqual([
        { kind: 'edit', message: expect.stringContaining('seq 5 of instance inst-a differs from its recorded head') },
      ]);

      const cut = lines.slice(0, 3);
      expect(kinds(cut)).toEqual([]); // invisible without the head
      expect(verifyChain(asFile(cut), [head]).problems).toEqual([
        {
          kind: 'truncated',
          message: expect.stringContaining('the recorded head is seq 5, but the chain ends at seq 3'),
        },
      ]);
      expect(verifyChain(asFile(chain(2, 'inst-b')), [head]).problems.map((p) => p.kind)).toEqual(['truncated']);
      // An older head still holds once the chain has grown past it.
      expect(verifyChain(asFile(lines), [{ instanceId: 'inst-a', seq: 2, hash: sha256(lines[1]!) }]).problems).toEqual(
        [],
      );
    },
  );

  it('refuses a head that is not INSTANCE:SEQ:SHA256', () => {
    expect(() => parseChainHead('inst-a:5')).toThrow(/INSTANCE:SEQ:SHA256/);
    expect(() => parseChainHead(`inst-a:x:${'a'.repeat(64)}`)).toThrow();
  });

  it('finds swapped lines as reordering', () => {
    const lines = chain(4);
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    expect(kinds(lines)).toEqual(['reorder']);
  });

  it('finds an edited event through its successor, and a replaced event id', () => {
    const lines = chain(4);
    lines[1] = lines[1]!.replace('"alice"', '"mallory"');
    const report = verifyChain(asFile(lines));
    expect(report.problems).toEqual([
      { kind: 'edit', message: expect.stringContaining('prev_hash does not match seq 2') },
    ]);
    const twice = chain(3);
    expect(kinds([...twice, twice[2]!.replace('"alice"', '"bob"')])).toEqual(['edit']);
  });

  it('reports lines that are not audit events and fails the summary', () => {
    const lines = [...chain(2), 'not json', '{"hello":1}'];
    const report = verifyChain(asFile(lines));
    expect(report.problems.map((p) => p.kind)).toEqual(['unparseable', 'unparseable']);
    expect(formatReport(report)).toMatch(/^FAILED: 2 problem/);
  });

  it('checks order only within one stream, as partitions of a topic are read in any interleaving', () => {
    const lines = chain(4);
    const read: ReadLine[] = [
      { line: lines[1]!, stream: 'topic/1', at: 'offset 0' },
      { line: lines[0]!, stream: 'topic/0', at: 'offset 0' },
      { line: lines[3]!, stream: 'topic/1', at: 'offset 1' },
      { line: lines[2]!, stream: 'topic/0', at: 'offset 1' },
    ];
    expect(verifyChain(read).problems).toEqual([]);
    expect(verifyChain([read[2]!, read[0]!, read[1]!, read[3]!]).problems.map((p) => p.kind)).toEqual(['reorder']);
  });
});
