import type { AuditEvent } from './events.ts';

/**
 * Where audit events go (after OPA's one-method log sink). `write` must not block the request:
 * it enqueues; `flush` resolves once everything written so far is durable at the sink.
 */
export interface AuditSink {
  readonly name: string;
  write(event: AuditEvent, line: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
