import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { ContentMode } from './events.ts';
import type { SinkLogger } from './kafka-sink.ts';
import { DeliveryError, SpooledSink, type Transport } from './spooled-delivery.ts';
import type { SpoolRecord } from './spool-segments.ts';
import type { Spool } from './spool.ts';

/** What the Splunk HEC sink needs (the `audit.splunk` config section, with the spool opened and the token read). */
export interface SplunkHecOptions {
  /** The HEC base URL (`https://splunk.example:8088`); events go to `{url}/services/collector/event`. */
  readonly url: string;
  readonly token: string;
  readonly index?: string;
  readonly source: string;
  readonly sourcetype: string;
  readonly host: string;
  /** What HEC receives of prompts and answers (default masked). */
  readonly content?: ContentMode;
  readonly tls: { readonly verify: boolean; readonly caFile?: string };
  readonly timeoutMs: number;
  readonly spool: Spool;
  readonly maxSpoolBytes: number;
  readonly onSpoolFull: 'fail-closed' | 'fail-open';
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  readonly closeTimeoutMs: number;
  readonly logger?: SinkLogger;
}

/** The event endpoint: the only one that takes `fields` (indexed fields). */
export const HEC_EVENT_PATH = '/services/collector/event';

/**
 * HEC answer codes (Splunk's "Troubleshoot HTTP Event Collector" table) after which resending the
 * same batch is pointless: the data itself was refused (5 no data, 6 invalid data format, 7 incorrect
 * index, 12 event field required, 13 event field blank, 15 indexed fields). Everything else (1-4 token
 * problems an operator fixes, 8 internal error, 9 busy, a network error) is retried with backoff.
 */
const DATA_REFUSED = new Set([5, 6, 7, 12, 13, 15]);

/**
 * One audit line as a HEC event document: `time` in epoch seconds (the event's own timestamp),
 * the metadata from config, `fields.event_id` (and kind, instance, seq) as indexed fields for
 * dedup and search, and the exact audit line as `event`. The line is spliced in as it is, not
 * re-serialized: Splunk stores the bytes the hash chain covers, so `audit verify` logic still holds.
 */
export function hecEventOf(line: string, meta: Pick<SplunkHecOptions, 'index' | 'source' | 'sourcetype' | 'host'>) {
  const e = JSON.parse(line) as {
    event_id: string;
    kind: string;
    instance_id: string;
    seq: number;
    timestamp?: string;
  };
  const ms = e.timestamp === undefined ? NaN : Date.parse(e.timestamp);
  const head = {
    time: Number.isNaN(ms) ? undefined : ms / 1000,
    host: meta.host,
    source: meta.source,
    sourcetype: meta.sourcetype,
    ...(meta.index === undefined ? {} : { index: meta.index }),
    fields: { event_id: e.event_id, kind: e.kind, instance_id: e.instance_id, seq: String(e.seq) },
  };
  const text = JSON.stringify(head);
  return `${text.slice(0, -1)},"event":${line}}`;
}

/** Posts batches of HEC event documents, concatenated in one body as HEC's batch format allows. */
export class SplunkHecTransport implements Transport {
  private readonly agent: Agent;
  private readonly endpoint: string;

  constructor(private readonly opts: SplunkHecOptions) {
    this.endpoint = new URL(HEC_EVENT_PATH, opts.url.endsWith('/') ? opts.url : `${opts.url}/`).toString();
    const ca = opts.tls.caFile ? readFileSync(opts.tls.caFile) : undefined;
    this.agent = new Agent({
      connect: { rejectUnauthorized: opts.tls.verify, ...(ca ? { ca } : {}) },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  }

  async send(batch: readonly SpoolRecord[]): Promise<void> {
    const body = batch.map((r) => hecEventOf(r.line, this.opts)).join('\n');
    const res = await request(this.endpoint, {
      method: 'POST',
      dispatcher: this.agent,
      headers: { authorization: `Splunk ${this.opts.token}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    const text = await res.body.text();
    let answer: { code?: unknown; text?: unknown } = {};
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      // A proxy's HTML error page: judged by the status alone.
    }
    if (res.statusCode === 200 && (answer.code === undefined || answer.code === 0)) return;
    const what = `HEC answered ${res.statusCode}${typeof answer.code === 'number' ? ` code ${answer.code}` : ''}`;
    const detail = typeof answer.text === 'string' ? `: ${answer.text}` : '';
    if (res.statusCode === 413) throw new DeliveryError(`${what} (request too large)`, 'split');
    if (res.statusCode === 400 && typeof answer.code === 'number' && DATA_REFUSED.has(answer.code))
      throw new DeliveryError(what + detail, 'split');
    throw new DeliveryError(what + detail, 'retry');
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** The Splunk HEC audit sink: the spool's at-least-once delivery over {@link SplunkHecTransport}. */
export function splunkHecSink(opts: SplunkHecOptions): SpooledSink {
  return new SpooledSink('splunk', new SplunkHecTransport(opts), { ...opts, configKey: 'audit.splunk' });
}
