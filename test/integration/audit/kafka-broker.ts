/**
 * A real Apache Kafka broker for one test file, run by scripts/kafka.sh on free ports with its own
 * state dir. The script's watchdog stops it if this test process dies before afterAll runs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../../scripts/kafka.sh', import.meta.url).pathname;

/** A port nothing listens on right now (also used as a broker address that refuses connections). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class TestBroker {
  private constructor(
    readonly bootstrap: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
  ) {}

  static async start(): Promise<TestBroker> {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-'));
    const port = await freePort();
    const env = {
      ...process.env,
      SLUICE_KAFKA_PORT: String(port),
      SLUICE_KAFKA_CONTROLLER_PORT: String(await freePort()),
      SLUICE_KAFKA_DIR: dir,
      SLUICE_KAFKA_WATCH_PID: String(process.pid),
    };
    const broker = new TestBroker(`127.0.0.1:${port}`, env, dir);
    await broker.script('start');
    return broker;
  }

  /** Stops the broker; its data stays, so start() brings the same topics back. */
  async stop(): Promise<void> {
    await this.script('stop');
  }

  async start(): Promise<void> {
    await this.script('start');
  }

  async close(): Promise<void> {
    await this.script('stop').catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async script(command: 'start' | 'stop'): Promise<void> {
    await run('bash', [SCRIPT, command], { env: this.env, timeout: 180_000 });
  }
}
