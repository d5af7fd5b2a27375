import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sonicBoom, { type SonicBoom as SonicBoomStream } from 'sonic-boom';
import type { AuditSink, SinkHealth } from './sink.ts';

// sonic-boom is CommonJS: its default export is the class its typings call SonicBoom.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomStream;

/** Bytes one write(2) may take: sonic-boom's default, 16 KiB, let lines queue faster than they drained at saturation. */
const MAX_WRITE_BYTES = 1024 * 1024;

/** Audit bytes queued in memory beyond which the sink stops accepting (the gateway answers 503). */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * Append-only JSONL file: the embedded default sink. sonic-boom (pino's writer) batches appends
 * off the request path; the file is opened O_APPEND with mode 0600 because it holds prompts.
 * The queue is bounded: past maxPendingBytes not yet written, health() reports the sink as not
 * accepting, so the gateway refuses calls instead of holding an ever-growing backlog in memory.
 */
export class FileAuditSink implements AuditSink {
  readonly name = 'file';
  private readonly stream: SonicBoomStream;
  private pendingBytes = 0;

  constructor(
    readonly path: string,
    private readonly maxPendingBytes = MAX_PENDING_BYTES,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // minLength 1, not the default 0: with 0, sonic-boom's flush() calls back at once without
    // waiting for writes in flight, so "flushed" would not mean "in the file". With 1 every write
    // still goes out immediately, and flush() waits for the drain.
    // Buffer mode: lines are encoded once; in string mode sonic-boom re-measures (and copies) its
    // whole pending string on every write, 16% of all allocation at saturation.
    this.stream = new SonicBoom({ dest: path, append: true, mkdir: true, sync: false, mode: 0o600, minLength: 1, maxWrite: MAX_WRITE_BYTES, contentMode: 'buffer' });
    this.stream.on('write', (written: number) => (this.pendingBytes -= written));
  }

  write(_event: unknown, _line: string, bytes: Buffer): void {
    this.pendingBytes += bytes.length;
    // The typings know only string content; buffer mode takes Buffers.
    this.stream.write(bytes as unknown as string);
  }

  health(): SinkHealth {
    const accepting = this.pendingBytes <= this.maxPendingBytes;
    return {
      name: this.name,
      accepting,
      ...(accepting ? {} : { reason: `audit file ${this.path} is ${Math.round(this.pendingBytes / 2 ** 20)} MiB behind` }),
      metrics: { pending_bytes: this.pendingBytes },
    };
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => this.stream.flush((err?: Error) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
  }
}
