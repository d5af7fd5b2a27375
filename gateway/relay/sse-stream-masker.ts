/**
 * Masks a Messages API SSE stream as it flows. text_delta, input_json_delta and thinking_delta
 * text is buffered per content block, and only the end that could still be the start of an
 * entity is held back (StreamTail): everything before it is masked and sent at once. A block's
 * held text is flushed at its content_block_stop (and at message_delta / message_stop / error),
 * so event order, event types and `usage` stay exactly as upstream sent them. Strings that
 * arrive whole are masked at once, as the JSON masker masks them (mapBlockStrings): a block in
 * content_block_start (a server tool's result comes complete in it: a fetched page, search
 * results, code output) and the citation of a citations_delta. `ping`, `signature_delta` and
 * every other event pass at once. Two outputs: `record` (masked, for the audit) and `client`
 * (masked, then restored if asked, except thinking: it is signed, so it is changed only where it
 * holds an entity the policy masks).
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { formatSseEvent } from './sse-writer.ts';
import { jsonTextView, rawOffset } from '../mask/json-text-view.ts';
import { MaskReplacer } from '../mask/mask-replacer.ts';
import type { MaskPlan } from '../mask/mask-plan.ts';
import { mapBlockStrings, mapCitationStrings, responseStringMasker } from '../mask/mask-response.ts';
import { maskText } from '../mask/mask-text.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Bytes for the caller and for the audit recorder, produced by one push. */
export interface MaskedOutput {
  readonly client: string;
  readonly record: string;
}

interface Held {
  readonly kind: 'text_delta' | 'input_json_delta' | 'thinking_delta';
  text: string;
  /** The last characters already sent: left context for the patterns' one-character look-behinds. */
  context: string;
}

const CONTEXT = 2;

/** The field each held delta kind carries its text in. */
const DELTA_FIELD: Record<Held['kind'], string> = {
  text_delta: 'text',
  input_json_delta: 'partial_json',
  thinking_delta: 'thinking',
};

/** Stateful per stream; feed upstream chunks in order, then call end(). */
export class SseStreamMasker {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly parser: EventSourceParser;
  private readonly held = new Map<number, Held>();
  private client = '';
  private record = '';
  private ended = false;
  /** Set by the first event whose data is not JSON: the stream is broken, nothing after it is relayed. */
  private brokenAt: string | undefined;
  /**
   * Citations seen per content block, so each is named by its place in the block's citations
   * (as the JSON masker names it).
   */
  private readonly citations = new Map<number, number>();
  /** Masks a whole string for the policy's response types (blocks and citations that arrive whole). */
  private readonly maskWhole: (text: string, path: string) => string;
  private readonly restoreWhole = (text: string): string => this.plan.replacer.restore(text);

  /**
   * `firstDelta`, when given, receives the output so far as soon as the first content_block_delta
   * is emitted, in the middle of a push: the first token then leaves without waiting for the rest
   * of a burst to be masked (one upstream read can carry a whole answer, ~1 ms of masking).
   */
  constructor(
    private readonly plan: MaskPlan,
    private firstDelta?: (out: MaskedOutput) => void,
  ) {
    this.maskWhole = responseStringMasker(plan);
    this.parser = createParser({ onEvent: (msg) => this.onEvent(msg.event ?? 'message', msg.data) });
  }

  /** Feeds one upstream chunk; returns what may be sent now. */
  push(chunk: Uint8Array): MaskedOutput {
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    return this.take();
  }

  /** The stream ended (or failed): flush every held text, masked as final. */
  end(): MaskedOutput {
    if (this.ended) return this.take();
    this.ended = true;
    this.parser.feed(this.decoder.decode());
    this.flushAll();
    return this.take();
  }

  private take(): MaskedOutput {
    const out = { client: this.client, record: this.record };
    this.client = '';
    this.record = '';
    return out;
  }

  /** The event type of the first malformed event, once the upstream stream broke; the relay then ends it. */
  get broken(): string | undefined {
    return this.brokenAt;
  }

  private onEvent(event: string, raw: string): void {
    if (this.brokenAt !== undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      this.brokenAt = event;
      this.flushAll();
      return this.recordRaw(event, raw);
    }
    const type = isObj(data) ? data.type : undefined;
    if (type === 'content_block_delta' && isObj(data) && typeof data.index === 'number' && isObj(data.delta)) {
      const d = data.delta;
      if (d.type === 'text_delta' && typeof d.text === 'string') return this.hold(data.index, 'text_delta', d.text);
      if (d.type === 'input_json_delta' && typeof d.partial_json === 'string')
        return this.hold(data.index, 'input_json_delta', d.partial_json);
      if (d.type === 'thinking_delta' && typeof d.thinking === 'string')
        return this.hold(data.index, 'thinking_delta', d.thinking);
      if (d.type === 'citations_delta' && isObj(d.citation)) {
        const nth = this.citations.get(data.index) ?? 0;
        this.citations.set(data.index, nth + 1);
        const path = `content[${data.index}].citations[${nth}]`;
        return this.emitWhole(event, data, (src, edit) => ({
          ...src,
          delta: { ...(src.delta as Obj), citation: mapCitationStrings((src.delta as Obj).citation, edit, path) },
        }));
      }
    }
    if (type === 'content_block_start' && isObj(data) && typeof data.index === 'number' && isObj(data.content_block)) {
      const path = `content[${data.index}]`;
      return this.emitWhole(event, data, (src, edit, scope) => ({
        ...src,
        content_block: mapBlockStrings(src.content_block, edit, scope, path),
      }));
    }
    if (type === 'content_block_stop' && isObj(data) && typeof data.index === 'number') this.flush(data.index, true);
    else if (type === 'message_delta' || type === 'message_stop' || event === 'error') this.flushAll();
    this.emit(event, data, data);
  }

  /**
   * An event whose strings are complete: `map` rebuilds it with an edit applied, masking the
   * upstream's event for the record, then, when the policy restores, restoring placeholders in
   * that copy for the caller.
   */
  private emitWhole(
    event: string,
    data: Obj,
    map: (src: Obj, edit: (text: string, path: string) => string, scope: 'masked' | 'restored') => Obj,
  ): void {
    const record = map(data, this.maskWhole, 'masked');
    const client = this.plan.restore ? map(record, this.restoreWhole, 'restored') : record;
    this.emit(event, client, record);
  }

  private hold(index: number, kind: Held['kind'], piece: string): void {
    let held = this.held.get(index);
    if (held && held.kind !== kind) {
      this.flush(index, true);
      held = undefined;
    }
    if (!held) {
      held = { kind, text: '', context: '' };
      this.held.set(index, held);
    }
    held.text += piece;
    this.flush(index, false);
  }

  /** Sends the part of a block's held text that can be judged now (all of it when `final`). */
  private flush(index: number, final: boolean): void {
    const held = this.held.get(index);
    if (!held || held.text === '') return;
    const text = held.text;
    const json = held.kind === 'input_json_delta';
    const pad = held.context.length;
    const scanned = held.context + text;
    // Tool input is JSON text: scanned with its escapes decoded, each match mapped back to its raw span.
    const view = json ? jsonTextView(scanned) : undefined;
    const raw = (at: number): number => (view ? rawOffset(view, at) : at) - pad;
    const matches = this.plan.kit.detector
      .scan(view ? view.text : scanned)
      .map((m) => ({
        type: m.type,
        start: raw(m.start),
        end: raw(m.end),
        value: view?.rawAt ? view.text.slice(m.start, m.end) : undefined,
      }))
      .filter((m) => m.start >= 0);
    // Thinking is signed: placeholders in it stay as the model wrote them.
    const restore = this.plan.restore && held.kind !== 'thinking_delta';
    let cut = text.length;
    if (!final) {
      // An escape cut off mid-way waits for its end, with the run before it: its character may continue an entity.
      const decoded =
        view && view.pendingEscape >= 0 ? view.text.slice(0, view.pendingEscape) : (view?.text ?? scanned);
      cut = Math.min(
        raw(decoded.length - this.plan.kit.tail.holdLength(decoded)),
        text.length - (restore ? MaskReplacer.restoreHold(text) : 0),
      );
      // A match that crosses the cut waits whole: it is masked once, never in two halves.
      for (const m of matches) if (m.start < cut && m.end > cut) cut = m.start;
    }
    if (cut <= 0) return;
    const kept = final ? matches : matches.filter((m) => m.end <= cut);
    const masked = maskText(
      cut === text.length ? text : text.slice(0, cut),
      kept,
      this.plan.responseTypes,
      this.plan.replacer,
      json,
    );
    const field = DELTA_FIELD[held.kind];
    this.plan.ledger.add(`response.content[${index}].${json ? 'input' : field}`, masked.counts);
    held.text = text.slice(cut);
    held.context = scanned.slice(Math.max(0, pad + cut - CONTEXT), pad + cut);
    const delta = (t: string): Obj => ({ type: 'content_block_delta', index, delta: { type: held.kind, [field]: t } });
    const record = delta(masked.text);
    const client = restore ? this.plan.replacer.restore(masked.text, json) : masked.text;
    // The same object when nothing was restored: the frame is then serialized once for both outputs.
    this.emit('content_block_delta', client === masked.text ? record : delta(client), record);
  }

  private flushAll(): void {
    for (const index of this.held.keys()) this.flush(index, true);
  }

  private emit(event: string, client: unknown, record: unknown): void {
    const recordFrame = formatSseEvent(event, record);
    this.record += recordFrame;
    this.client += client === record ? recordFrame : formatSseEvent(event, client);
    if (this.firstDelta && event === 'content_block_delta') {
      const handOff = this.firstDelta;
      this.firstDelta = undefined;
      handOff(this.take());
    }
  }

  /**
   * Data that is not JSON goes to the record only, one `data:` line per line, masked as plain
   * text first: a broken frame must not become a way around masking, even in the audit. The
   * caller gets an error event from the relay instead of a frame its SDK cannot parse.
   */
  private recordRaw(event: string, raw: string): void {
    const masked = maskText(raw, this.plan.kit.detector.scan(raw), this.plan.responseTypes, this.plan.replacer);
    this.plan.ledger.add('response.malformed_event', masked.counts);
    this.record += `event: ${event.replace(/[\r\n]/g, '')}\n${masked.text
      .split('\n')
      .map((l) => `data: ${l}`)
      .join('\n')}\n\n`;
  }
}
