import { createHash, randomUUID } from 'node:crypto';
import { boundedExchange, decisionBody, withContent, type AuditDraft } from './event-content.ts';
import { AUDIT_SCHEMA_VERSION, type AuditEvent, type AuditEventBody, type ContentMode } from './events.ts';
import type { AuditSink, SinkHealth } from './sink.ts';
import { lineBytes } from './line-bytes.ts';

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

/** Content budget per event when none is given (config `audit.maxContentBytes` sets it). */
const DEFAULT_MAX_CONTENT_BYTES = 1 << 20;

export interface AuditLogOptions {
  readonly instanceId?: string;
  /** Content an exchange record keeps under `content: masked`; larger fields are cut (content-bound.ts). */
  readonly maxContentBytes?: number;
  /** Told about an event that could not be serialized (a bug): it is counted and left out of the chain. */
  readonly onUnwritable?: (err: unknown, kind: string) => void;
}

/** One content setting's chain and the sinks that receive it. */
interface Chain {
  readonly mode: ContentMode;
  readonly sinks: AuditSink[];
  prevHash: string;
}

/**
 * The audit writer. The request path hands over event bodies as typed values (`record`, which
 * only queues); serialisation, the prompt's digest, content bounding, the hash chain and the
 * hand-over to the sinks run off the request path, for every event queued since the last turn
 * of the event loop at once. Whoever must know an event is written — the write-ahead decision —
 * calls `written()`, which drains the queue first.
 *
 * Each event gets a schema version, id and per-instance sequence number, and per content setting
 * in use (sinks receive `masked`, `digest` or `none` content) the sha256 of the previous event's
 * line in that setting's chain: one serialisation and one hash per event and setting.
 */
export class AuditLog {
  private seq = 0;
  private readonly chains: Chain[];
  private queue: AuditDraft[] = [];
  private scheduled = false;
  private unwritable = 0;
  readonly instanceId: string;
  private readonly maxContentBytes: number;
  private readonly onUnwritable: AuditLogOptions['onUnwritable'];

  constructor(
    private readonly sinks: readonly AuditSink[],
    options: AuditLogOptions | string = {},
  ) {
    const opts = typeof options === 'string' ? { instanceId: options } : options;
    this.instanceId = opts.instanceId ?? randomUUID();
    this.maxContentBytes = opts.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
    this.onUnwritable = opts.onUnwritable;
    const byMode = new Map<ContentMode, Chain>();
    for (const sink of sinks) {
      const mode = sink.content ?? 'masked';
      const chain = byMode.get(mode) ?? byMode.set(mode, { mode, sinks: [], prevHash: CHAIN_GENESIS }).get(mode)!;
      chain.sinks.push(sink);
    }
    this.chains = [...byMode.values()];
  }

  /** Queues an event; it is written on the next turn of the event loop (or by written()/flush()). */
  record(draft: AuditDraft): void {
    this.queue.push(draft);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Writes every queued event, in order. */
  private drain(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const draft of queue) this.write(draft);
  }

  private write(draft: AuditDraft): void {
    const body: AuditEventBody = draft.kind === 'decision' ? decisionBody(draft) : draft;
    const eventId = randomUUID();
    const seq = this.seq + 1;
    let lines: { chain: Chain; event: AuditEvent; line: string }[];
    try {
      // Every setting's line is serialised before the number is taken: an event that cannot be
      // serialised must not leave a gap in the chain that `audit verify` would report as tampering.
      lines = this.chains.map((chain) => {
        const stamp = (content: AuditEventBody) =>
          ({
            schema_version: AUDIT_SCHEMA_VERSION,
            event_id: eventId,
            content: chain.mode,
            seq,
            prev_hash: chain.prevHash,
            instance_id: this.instanceId,
            ...content,
          }) as AuditEvent;
        let event = stamp(withContent(body, chain.mode));
        let line = JSON.stringify(event);
        // The content is part of the line, so a line within the budget holds content within it:
        // only a longer one is measured field by field and cut (UTF-8 is at most 3 bytes per UTF-16 unit).
        if (chain.mode === 'masked' && line.length * 3 > this.maxContentBytes && body.kind === 'exchange') {
          if (Buffer.byteLength(line, 'utf8') > this.maxContentBytes) {
            event = stamp(boundedExchange(body, this.maxContentBytes));
            line = JSON.stringify(event);
          }
        }
        return { chain, event, line };
      });
    } catch (err) {
      this.unwritable++;
      this.onUnwritable?.(err, body.kind);
      return;
    }
    this.seq = seq;
    for (const { chain, event, line } of lines) {
      // Encoded once: the chain hashes these bytes (the line without its newline) and the file sink writes them.
      const bytes = lineBytes(line);
      chain.prevHash = createHash('sha256')
        .update(bytes.subarray(0, bytes.length - 1))
        .digest('hex');
      for (const sink of chain.sinks) sink.write(event, line, bytes);
    }
  }

  /**
   * The chain so far in one content setting (the first sink's by default): its last seq and the
   * sha256 of its last line (the genesis hash before any event). Queued events are written first.
   */
  head(mode: ContentMode = this.chains[0]?.mode ?? 'masked'): ChainHead {
    this.drain();
    const chain = this.chains.find((c) => c.mode === mode);
    // As `sluice audit verify` names chains: the instance, and the content setting unless masked.
    const instanceId = mode === 'masked' ? this.instanceId : `${this.instanceId}/${mode}`;
    return { instanceId, seq: this.seq, hash: chain?.prevHash ?? CHAIN_GENESIS };
  }

  /** Whether every sink can take more events, and each sink's metrics (for /readyz, /metrics). */
  status(): { accepting: boolean; reasons: string[]; sinks: SinkHealth[] } {
    const sinks = this.sinks.map((s) => s.health?.() ?? { name: s.name, accepting: true, metrics: {} });
    const reasons = sinks.flatMap((s) =>
      s.accepting ? [] : [s.reason ?? `audit sink ${s.name} is not accepting events`],
    );
    return { accepting: reasons.length === 0, reasons, sinks };
  }

  /** Events that could not be serialised (a bug, reported through onUnwritable). */
  unwritableEvents(): number {
    return this.unwritable;
  }

  /** Resolves once every event recorded so far has left the process in every sink that can say so. */
  async written(): Promise<void> {
    this.drain();
    await Promise.all(this.sinks.map((s) => s.written?.()));
  }

  async flush(): Promise<void> {
    this.drain();
    await Promise.all(this.sinks.map((s) => s.flush()));
  }

  async close(): Promise<void> {
    this.drain();
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
