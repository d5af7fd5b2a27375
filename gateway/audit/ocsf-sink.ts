import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import type { AuditEvent } from './events.ts';
import { lineBytes } from './line-bytes.ts';
import { decisionFacts, isExchangeRecord, toOcsf, type DecisionFacts, type OcsfContext } from './ocsf-project.ts';
import type { AuditSink, SinkHealth } from './sink.ts';

/** What a sink writes: Sluice's own audit lines (chained, verifiable) or their OCSF projection (config `format`). */
export type AuditFormat = 'sluice' | 'ocsf';

/** Calls in flight whose decision waits for its exchange record; beyond it the oldest decision is dropped. */
const MAX_PENDING_DECISIONS = 50_000;

/** Where a failed projection is reported (the gateway's logger). */
export interface OcsfSinkLogger {
  error(obj: object, msg: string): void;
}

/**
 * Hands a sink the OCSF projection of each event instead of the Sluice line. A call's decision event is held
 * (its facts only, never the prompt) until the call's exchange record arrives, and both become one API Activity.
 * A projection that throws is a defect that would leave the SIEM feed silently short, so the sink then stops
 * accepting (the gateway answers 503), as the file sink does when it cannot write.
 */
export class OcsfAuditSink implements AuditSink {
  readonly name: string;
  private readonly decisions = new LRUCache<string, DecisionFacts>({ max: MAX_PENDING_DECISIONS });
  private failure: string | undefined;
  private failures = 0;

  constructor(
    private readonly inner: AuditSink,
    private readonly ctx: OcsfContext = { productVersion: sluiceVersion() },
    private readonly logger?: OcsfSinkLogger,
  ) {
    this.name = inner.name;
  }

  write(event: AuditEvent): void {
    let line: string;
    try {
      let decision: DecisionFacts | undefined;
      if (event.kind === 'decision' && event.custom_id === undefined) {
        this.decisions.set(event.decision_id, decisionFacts(event));
      } else if (isExchangeRecord(event)) {
        decision = this.decisions.get(event.decision_id);
        this.decisions.delete(event.decision_id);
      }
      const ocsf = toOcsf(event, decision, this.ctx);
      if (ocsf === null) return;
      line = JSON.stringify(ocsf);
    } catch (err) {
      this.failures += 1;
      const why = (err as Error).message;
      this.failure = `OCSF projection of audit event ${event.event_id} (${event.kind}) failed: ${why}`;
      this.logger?.error({ event_id: event.event_id, kind: event.kind, err }, 'OCSF projection failed');
      return;
    }
    this.inner.write(event, line, lineBytes(line));
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  async written(): Promise<void> {
    if (this.failure) throw new Error(this.failure);
    await this.inner.written?.();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  health(): SinkHealth {
    const inner = this.inner.health?.() ?? { name: this.name, accepting: true, metrics: {} };
    const metrics = { ...inner.metrics, ocsf_projection_failures_total: this.failures };
    if (this.failure) return { ...inner, accepting: false, reason: this.failure, metrics };
    return { ...inner, metrics };
  }
}

/** The sink as configured: itself for `sluice`, wrapped in the OCSF projection for `ocsf`. */
export function withFormat(sink: AuditSink, format: AuditFormat, logger?: OcsfSinkLogger): AuditSink {
  return format === 'ocsf' ? new OcsfAuditSink(sink, undefined, logger) : sink;
}

let version: string | undefined;

/** Sluice's version (package.json), for `metadata.product.version`; found upwards from here (src or dist). */
export function sluiceVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && pkg.version) return (version = pkg.version);
    } catch {
      // No package.json at this level: look one up.
    }
  }
  return (version = 'unknown');
}
