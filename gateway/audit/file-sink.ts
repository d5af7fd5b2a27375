import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sonicBoom, { type SonicBoom as SonicBoomStream } from 'sonic-boom';
import type { AuditSink } from './sink.ts';

// sonic-boom is CommonJS: its default export is the class its typings call SonicBoom.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomStream;

/**
 * Append-only JSONL file: the embedded default sink. sonic-boom (pino's writer) batches appends
 * off the request path; the file is opened O_APPEND with mode 0600 because it holds prompts.
 */
export class FileAuditSink implements AuditSink {
  readonly name = 'file';
  private readonly stream: SonicBoomStream;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // minLength 1, not the default 0: with 0, sonic-boom's flush() calls back at once without
    // waiting for writes in flight, so "flushed" would not mean "in the file". With 1 every write
    // still goes out immediately, and flush() waits for the drain.
    this.stream = new SonicBoom({ dest: path, append: true, mkdir: true, sync: false, mode: 0o600, minLength: 1 });
  }

  write(_event: unknown, line: string): void {
    this.stream.write(line + '\n');
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
