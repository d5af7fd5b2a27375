import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import type { AuditSink } from '../../../gateway/audit/sink.ts';
import { SluiceError } from '../../../gateway/errors.ts';
import { inspectRequest } from '../../../gateway/inspect/inspect-request.ts';
import { operationNamed } from '../../../gateway/operations/operation-table.ts';
import { Exchange } from '../../../gateway/pipeline/exchange.ts';
import { recordExchange } from '../../../gateway/pipeline/exchange-record.ts';

class MemorySink implements AuditSink {
  readonly name = 'memory';
  readonly events: AuditEvent[] = [];
  write(e: AuditEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

const EMAIL = 'jane.doe@example.com';
const body = { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: `mail ${EMAIL}` }] };

function inspectedExchange(): Exchange {
  const op = operationNamed('messages.create')!;
  const ex = new Exchange(op, '127.0.0.1');
  const raw = Buffer.from(JSON.stringify(body));
  ex.set('inspected', inspectRequest(op, { headers: {}, params: {}, raw }, 'refuse'));
  return ex;
}

describe('exchange record', () => {
  it('clears entity values from a request refused before any policy bundle was loaded', async () => {
    const sink = new MemorySink();
    const ex = inspectedExchange();
    ex.set('failure', new SluiceError('SLUICE_ERR_POLICY_NOT_READY'));
    const log = new AuditLog([sink], 'test');
    const summary = recordExchange(log, ex);
    await log.written();
    expect(summary?.outcome).toBe('error');
    expect(sink.events.map((e) => e.kind)).toEqual(['decision', 'exchange']);
    const text = JSON.stringify(sink.events);
    expect(text).toContain('[EMAIL]');
    expect(text).not.toContain(EMAIL);
  });

  it('writes each record once, however many paths try to settle the call', async () => {
    const sink = new MemorySink();
    const ex = inspectedExchange();
    const log = new AuditLog([sink], 'test');
    expect(recordExchange(log, ex)).toBeDefined();
    expect(recordExchange(log, ex)).toBeUndefined();
    await log.written();
    expect(sink.events).toHaveLength(2);
  });

  it('refuses a second write of the same stage output', () => {
    const ex = inspectedExchange();
    expect(() => ex.set('inspected', ex.get('inspected')!)).toThrow(/set twice/);
  });
});
