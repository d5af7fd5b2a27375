import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditLog, CHAIN_GENESIS } from '../../../gateway/audit/audit-log.ts';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import type { AuditSink } from '../../../gateway/audit/sink.ts';

class MemorySink implements AuditSink {
  readonly name = 'memory';
  readonly lines: string[] = [];
  write(_e: AuditEvent, line: string): void {
    this.lines.push(line);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

const session = {
  kind: 'session' as const,
  decision_id: 'd',
  timestamp: 't',
  subject: 's',
  session_id: null,
  connection: 'c',
  operation: 'messages.create',
  outcome: 'allow' as const,
  masks_applied: [],
  request: null,
  response: null,
  timings_ms: {},
};

describe('AuditLog', () => {
  it('chains events: sequence numbers and the hash of the previous line', () => {
    const sink = new MemorySink();
    const log = new AuditLog([sink], 'instance-1');
    log.record(session);
    log.record(session);
    log.record(session);
    const events = sink.lines.map((l) => JSON.parse(l) as AuditEvent);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[0]!.prev_hash).toBe(CHAIN_GENESIS);
    expect(events[1]!.prev_hash).toBe(createHash('sha256').update(sink.lines[0]!).digest('hex'));
    expect(events[2]!.prev_hash).toBe(createHash('sha256').update(sink.lines[1]!).digest('hex'));
    expect(new Set(events.map((e) => e.event_id)).size).toBe(3);
    expect(events.every((e) => e.instance_id === 'instance-1' && e.schema_version === 1)).toBe(true);
  });
});
