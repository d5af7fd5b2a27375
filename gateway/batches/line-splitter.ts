/**
 * Cuts a byte stream into lines (JSONL), never holding more than one line of at most `maxBytes`:
 * a longer line is refused as soon as it exceeds the bound, before the rest of it is read.
 * Hand-written: node:readline has no bound on a line's length, and works on decoded strings.
 */
export class LineTooLong extends Error {}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The whole lines `chunk` completes (without their `\n`, or `\r\n`); throws LineTooLong past the bound. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.take(chunk.subarray(start, nl));
      lines.push(this.line());
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
    return lines;
  }

  /** The last line when the stream did not end in a newline, or undefined. */
  end(): Buffer | undefined {
    return this.pendingBytes === 0 ? undefined : this.line();
  }

  private take(part: Buffer): void {
    if (this.pendingBytes + part.length > this.maxBytes) throw new LineTooLong(`a line exceeds ${this.maxBytes} bytes`);
    if (part.length > 0) this.pending.push(part);
    this.pendingBytes += part.length;
  }

  private line(): Buffer {
    const whole = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return whole.at(-1) === 0x0d ? whole.subarray(0, -1) : whole;
  }
}
