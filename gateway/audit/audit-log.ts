import { createHash, randomUUID } from 'node:crypto';
import { AUDIT_SCHEMA_VERSION, type AuditEvent, type AuditEventBody } from './events.ts';
import type { AuditSink, SinkHealth } from './sink.ts';

/** Where one instance's chain has got to: its last seq, and the sha256 of that event's line. */
export interface ChainHead {
  readonly instanceId: string;
  readonly seq: number;
  readonly hash: string;
}

/** A head as one token, `INSTANCE:SEQ:HASH`: what the gateway logs and `sluice audit verify --head` takes. */
export function formatChainHead(head: ChainHead): string {
  return `${head.instanceId}:${head.seq}:${head.hash}`;
}

/** The hash that starts every chain: sha256 of the empty string. */
export const CHAIN_GENESIS = createHash('sha256').update('').digest('hex');

/**
 * Stamps each event with schema version, id, per-instance sequence number and the sha256 of the
 * previous event's serialized line, then hands the line to every sink. One serialization per
 * event serves the hash and all sinks.
 */
export class AuditLog {
  private seq = 0;
  private prevHash = CHAIN_GENESIS;

  constructor(
    private readonly sinks: readonly AuditSink[],
    readonly instanceId: string = randomUUID(),
  ) {}

  record(body: AuditEventBody): AuditEvent {
    const event = {
      schema_version: AUDIT_SCHEMA_VERSION,
      event_id: randomUUID(),
      seq: this.seq + 1,
      prev_hash: this.prevHash,
      instance_id: this.instanceId,
      ...body,
    } as AuditEvent;
    // Serialize before taking the number: an event that cannot be serialized must not leave a
    // gap in the chain that `audit verify` would report as tampering.
    const line = JSON.stringify(event);
    // Encoded once: the chain hashes these bytes (the line without its newline) and the file sink writes them.
    const bytes = Buffer.from(`${line}\n`);
    this.seq = event.seq;
    this.prevHash = createHash('sha256')
      .update(bytes.subarray(0, bytes.length - 1))
      .digest('hex');
    for (const sink of this.sinks) sink.write(event, line, bytes);
    return event;
  }

  /** The chain so far: its last seq and the sha256 of its last line (the genesis hash before any event). */
  head(): ChainHead {
    return { instanceId: this.instanceId, seq: this.seq, hash: this.prevHash };
  }

  /** Whether every sink can take more events, and each sink's metrics (for /readyz, /metrics). */
  status(): { accepting: boolean; reasons: string[]; sinks: SinkHealth[] } {
    const sinks = this.sinks.map((s) => s.health?.() ?? { name: s.name, accepting: true, metrics: {} });
    const reasons = sinks.flatMap((s) =>
      s.accepting ? [] : [s.reason ?? `audit sink ${s.name} is not accepting events`],
    );
    return { accepting: reasons.length === 0, reasons, sinks };
  }

  /** Resolves once every event recorded so far has left the process in every sink that can say so. */
  async written(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.written?.()));
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
