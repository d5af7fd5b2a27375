import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { MessageAccumulator } from './message-accumulator.ts';

/** One parsed SSE event as recorded: its name, its JSON data (or the raw text if not JSON) and when it arrived. */
export interface RecordedSseEvent {
  readonly event: string;
  /** Undefined when the recorder was made with `keepData: false`. */
  readonly data: unknown;
  /** Milliseconds since the recorder was created. */
  readonly at_ms: number;
}

/** Limits that keep a hostile or runaway stream from growing the recorder without bound. */
export interface SseRecorderOptions {
  /** Events kept in `events`; later ones are counted in `dropped` (reconstruction still sees them). Default 10 000. */
  readonly maxEvents?: number;
  /** Characters one unterminated event may buffer before it is discarded. Default 16 MiB. */
  readonly maxEventChars?: number;
  /**
   * Keep each event's parsed `data` in `events` (default true). The relay turns it off: it needs
   * only names and timing, and keeping every delta's data held a second copy of the whole stream.
   */
  readonly keepData?: boolean;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
}

/**
 * Watches a Messages API SSE stream as it is relayed: parses the events (eventsource-parser),
 * keeps their timing, collects `error` events and rebuilds the final Message. It is fed raw
 * upstream bytes and never throws on them, so a broken upstream cannot break the relay.
 */
export class SseRecorder {
  /** Recorded events, in arrival order, at most `maxEvents`. */
  readonly events: RecordedSseEvent[] = [];
  /** Parsed data of each `error` event (Anthropic's mid-stream failure frame), at most `maxEvents`. */
  readonly errors: unknown[] = [];
  /** Events that arrived after `events` was full. */
  dropped = 0;
  /** Events whose data was not JSON. */
  malformed = 0;
  /**
   * Times an unterminated event outgrew `maxEventChars` and was discarded (one huge event may count more than once).
   */
  oversized = 0;

  private readonly started: number;
  private readonly now: () => number;
  private readonly maxEvents: number;
  private readonly keepData: boolean;
  // fatal: false replaces invalid UTF-8 with U+FFFD instead of throwing;
  // stream: true joins code points split across chunks.
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly parser: EventSourceParser;
  private readonly message = new MessageAccumulator();
  private overflowed = false;
  private ended = false;

  constructor(options: SseRecorderOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.maxEvents = options.maxEvents ?? 10_000;
    this.keepData = options.keepData ?? true;
    this.parser = createParser({
      maxBufferSize: options.maxEventChars ?? 16 * 1024 * 1024,
      onEvent: (msg) => this.onEvent(msg),
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') this.overflowed = true;
      },
    });
  }

  /** Feeds one chunk of upstream bytes. Never throws. */
  push(chunk: Buffer | Uint8Array): void {
    if (this.ended) return;
    this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** Marks the end of the stream; an event without its terminating blank line is discarded, as the SSE spec says. */
  end(): void {
    if (this.ended) return;
    this.feed(this.decoder.decode());
    this.ended = true;
    this.parser.reset();
  }

  /** The Message rebuilt from the stream so far, or undefined if no `message_start` arrived. */
  reconstruct(): unknown {
    return this.message.snapshot();
  }

  private feed(text: string): void {
    if (text === '') return;
    try {
      this.parser.feed(text);
    } catch {
      // Only reachable after a buffer overflow, which is handled below; never let the parser break the relay.
      this.overflowed = true;
    }
    if (this.overflowed) {
      // The oversized event is lost; reset so the events after it are still seen.
      this.oversized++;
      this.overflowed = false;
      this.parser.reset();
    }
  }

  private onEvent(msg: EventSourceMessage): void {
    const event = msg.event ?? 'message';
    let data: unknown;
    try {
      data = JSON.parse(msg.data);
    } catch {
      this.malformed++;
      data = msg.data;
    }
    const at_ms = Math.round((this.now() - this.started) * 1000) / 1000;
    if (this.events.length < this.maxEvents) this.events.push({ event, data: this.keepData ? data : undefined, at_ms });
    else this.dropped++;
    if (event === 'error') {
      if (this.errors.length < this.maxEvents) this.errors.push(data);
    } else this.message.apply(data);
  }
}
