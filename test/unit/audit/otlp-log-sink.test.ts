import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { logAttributesOf, otlpLogSink } from '../../../gateway/audit/otlp-log-sink.ts';
import { Spool } from '../../../gateway/audit/spool.ts';

/** An exporter that fails its first `failures` exports (as a collector that is down), then keeps what it gets. */
class FlakyExporter implements LogRecordExporter {
  readonly exported: ReadableLogRecord[] = [];
  attempts = 0;
  constructor(private failures: number) {}
  export(logs: ReadableLogRecord[], done: (r: { code: number; error?: Error }) => void): void {
    this.attempts++;
    if (this.failures-- > 0) return done({ code: 1, error: new Error('collector unavailable') });
    this.exported.push(...logs);
    done({ code: 0 });
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-otlp-sink-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('OTLP log sink', () => {
  it('keeps events in its spool while exports fail and delivers them once the collector takes them', async () => {
    const exporter = new FlakyExporter(2);
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, fsync: false });
    const sink = otlpLogSink({
      exporter,
      resource: resourceFromAttributes({ 'service.name': 'sluice' }),
      spool,
      maxSpoolBytes: 1 << 20,
      onSpoolFull: 'fail-closed',
      maxBatchRecords: 100,
      closeTimeoutMs: 5000,
    });
    const log = new AuditLog([sink]);
    const timestamp = '2026-12-04T10:00:00.000Z';
    for (const subject of ['alice', 'bob'])
      log.record({
        kind: 'access',
        object: 'session',
        session_id: `ses_${subject}`,
        state: 'opened',
        timestamp,
        subject,
        connection: 'anthropic',
        cause: null,
        actor: null,
      });
    await log.written();
    expect(await sink.drain(10_000)).toBe(true);
    expect(exporter.attempts).toBe(3);
    expect(exporter.exported.map((r) => (r.body as { subject: string }).subject)).toEqual(['alice', 'bob']);
    const [first] = exporter.exported;
    expect(first!.eventName).toBe('sluice.audit.access');
    expect(first!.hrTime).toEqual([Date.parse(timestamp) / 1000, 0]);
    expect(first!.attributes).toMatchObject({ 'user.id': 'alice', 'sluice.audit.kind': 'access', 'sluice.seq': 1 });
    await log.close();
  });

  it('names the GenAI attributes of a call from its exchange record', () => {
    const attrs = logAttributesOf({
      kind: 'exchange',
      event_id: 'e',
      instance_id: 'i',
      seq: 3,
      subject: 'alice',
      operation: 'messages.create',
      outcome: 'allow',
      request: { model: 'claude-sonnet-4-6' },
      response: { usage: { input_tokens: 12, output_tokens: 8 } },
    });
    expect(attrs).toMatchObject({
      'gen_ai.system': 'anthropic',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'claude-sonnet-4-6',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 8,
      'user.id': 'alice',
    });
  });
});
