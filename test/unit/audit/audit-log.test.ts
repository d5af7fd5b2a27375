import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditLog, CHAIN_GENESIS } from '../../../gateway/audit/audit-log.ts';
import type { DecisionDraft } from '../../../gateway/audit/event-content.ts';
import type { AuditEvent, ContentMode, DecisionEventBody, ExchangeRecordBody } from '../../../gateway/audit/events.ts';
import type { PolicyInput } from '../../../gateway/policy/input.ts';
import type { AuditSink } from '../../../gateway/audit/sink.ts';

class MemorySink implements AuditSink {
  readonly name = 'memory';
  readonly lines: string[] = [];
  constructor(readonly content: ContentMode = 'masked') {}
  write(_e: AuditEvent, line: string): void {
    this.lines.push(line);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

const session = {
  kind: 'exchange' as const,
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
    log.head(); // writes what is queued
    const events = sink.lines.map((l) => JSON.parse(l) as AuditEvent);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[0]!.prev_hash).toBe(CHAIN_GENESIS);
    expect(events[1]!.prev_hash).toBe(createHash('sha256').update(sink.lines[0]!).digest('hex'));
    expect(events[2]!.prev_hash).toBe(createHash('sha256').update(sink.lines[1]!).digest('hex'));
    expect(new Set(events.map((e) => e.event_id)).size).toBe(3);
    expect(events.every((e) => e.instance_id === 'instance-1' && e.schema_version === 2)).toBe(true);
  });

  it('writes off the request path: record() only queues, written() drains the queue first', async () => {
    const sink = new MemorySink();
    const log = new AuditLog([sink], 'instance-1');
    log.record(session);
    expect(sink.lines).toHaveLength(0);
    await log.written();
    expect(sink.lines).toHaveLength(1);
    log.record(session);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.lines).toHaveLength(2);
  });

  it('gives each content setting its own chain: masked text, digests, or none of it', async () => {
    const sinks = { masked: new MemorySink('masked'), digest: new MemorySink('digest'), none: new MemorySink('none') };
    const log = new AuditLog(Object.values(sinks), 'instance-1');
    const prompt = 'Write to [EMAIL_1] about the offer.';
    const record: ExchangeRecordBody = {
      ...session,
      request: {
        model: 'claude-sonnet-4-6',
        max_tokens: 64,
        system: 'Be brief.',
        messages: [{ role: 'user', content: prompt }],
      },
      response: {
        status: 200,
        stream: false,
        body: { id: 'msg_1', model: 'm', content: [{ type: 'text', text: 'ok' }] },
        usage: null,
      },
    };
    log.record(record);
    log.record(record);
    await log.written();
    const read = (s: MemorySink) => s.lines.map((l) => JSON.parse(l) as AuditEvent & ExchangeRecordBody);
    const [masked, digest, none] = [read(sinks.masked), read(sinks.digest), read(sinks.none)];
    expect(masked[0]!.request).toEqual(record.request);
    expect(JSON.stringify(digest)).not.toContain('[EMAIL_1]');
    expect(JSON.stringify(digest)).not.toContain('Be brief');
    const messages = JSON.stringify((record.request as { messages: unknown }).messages);
    expect(digest[0]!.request).toEqual({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      system: { sha256: createHash('sha256').update('Be brief.').digest('hex'), length: 9 },
      messages: { sha256: createHash('sha256').update(messages).digest('hex'), length: Buffer.byteLength(messages) },
    });
    expect((digest[0]!.response!.body as { id: string; content: unknown }).id).toBe('msg_1');
    expect(none[0]!.request).toBeNull();
    expect(none[0]!.response).toMatchObject({ status: 200, body: null });
    // Same events, same numbers; each chain hashes its own lines.
    for (const [mode, events] of [
      ['masked', masked],
      ['digest', digest],
      ['none', none],
    ] as const) {
      expect(events.map((e) => [e.seq, e.content])).toEqual([
        [1, mode],
        [2, mode],
      ]);
      expect(events[1]!.prev_hash).toBe(createHash('sha256').update(sinks[mode].lines[0]!).digest('hex'));
    }
    expect(digest[0]!.event_id).toBe(masked[0]!.event_id);
  });

  it('keeps the prompt out of the decision: its digest, length and findings instead, the path erased', async () => {
    const sink = new MemorySink();
    const log = new AuditLog([sink], 'instance-1');
    const text = 'Contact [EMAIL] today.';
    const input = { request: { operation: 'messages.create', text, findings: { EMAIL: 1 } } } as unknown as PolicyInput;
    const draft = { kind: 'decision', decision_id: 'd', input } as unknown as DecisionDraft;
    log.record(draft);
    await log.written();
    const event = JSON.parse(sink.lines[0]!) as DecisionEventBody;
    expect(sink.lines[0]).not.toContain('Contact');
    expect(event.input!.request.text).toEqual({
      sha256: createHash('sha256').update(text).digest('hex'),
      length: Buffer.byteLength(text),
      findings: { EMAIL: 1 },
    });
    expect(event.erased).toEqual(['/input/request/text']);
    expect(input.request.text).toBe(text); // the caller's input is not changed
  });

  it('leaves an event that cannot be serialised out of the chain, reported, without a gap', async () => {
    const sink = new MemorySink();
    const failures: string[] = [];
    const log = new AuditLog([sink], { instanceId: 'i', onUnwritable: (_err, kind) => failures.push(kind) });
    log.record(session);
    log.record({ ...session, request: { n: 1n } });
    log.record(session);
    await log.written();
    expect(failures).toEqual(['exchange']);
    expect(sink.lines.map((l) => (JSON.parse(l) as AuditEvent).seq)).toEqual([1, 2]);
    expect(log.unwritableEvents()).toBe(1);
  });
});
