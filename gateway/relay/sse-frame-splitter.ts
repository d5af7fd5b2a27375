/**
 * Cuts an SSE byte stream into whole frames (each ending in a blank line), so the relay can
 * judge and forward one frame at a time: a frame is never split across two writes to the caller,
 * and a broken one can be held back whole. Hand-written: eventsource-parser yields parsed events,
 * not the original frame text this relay forwards unchanged.
 */
const FRAME_END = /\r\n\r\n|\n\n|\r\r/g;

export class SseFrameSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';

  /** The whole frames completed by `chunk`, each with its terminating blank line. */
  push(chunk: Uint8Array): string[] {
    this.pending += this.decoder.decode(chunk, { stream: true });
    const frames: string[] = [];
    let start = 0;
    FRAME_END.lastIndex = 0;
    for (let m = FRAME_END.exec(this.pending); m !== null; m = FRAME_END.exec(this.pending)) {
      frames.push(this.pending.slice(start, m.index + m[0].length));
      start = m.index + m[0].length;
    }
    this.pending = this.pending.slice(start);
    return frames;
  }

  /** Whatever is left when the stream ends (an unterminated last frame), or ''. */
  end(): string {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    return rest;
  }
}
