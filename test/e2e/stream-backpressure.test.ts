/**
 * A caller that reads a stream slowly slows the upstream instead of growing the gateway's memory:
 * relay-stream awaits 'drain' whenever the caller's socket is full, so the gateway stops reading
 * the upstream and TCP pushes back on it. The gateway runs as `sluice serve` in a child process
 * so its RSS is its own; a counting TCP relay between it and mock-claude shows how many upstream
 * bytes the gateway accepted, and signals the moment it stopped accepting them.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { MockClaude, type LargeAnswerEnd } from '../../gateway/dev/mock-claude.ts';
import { freePort } from '../helpers/free-port.ts';

const SLUICE = 'gateway/bin/sluice.mjs';
const MiB = 1024 * 1024;
/** The answer the upstream would send: generated lazily, so only what is read is ever made. */
const ANSWER_BYTES = 1024 * MiB;
/** What the caller reads before it stops reading. */
const READ_BEFORE_STALL = 64 * 1024;
/**
 * Upstream bytes the gateway may take beyond what the caller read: the kernel's socket buffers on
 * both of its sides (loopback autotuning reaches a few MiB each) and stream buffers in between.
 */
const LAG_BOUND = 32 * MiB;
/** RSS growth allowed while the caller stalls (about 11 MiB is seen): far below the answer. */
const RSS_BOUND = 32 * MiB;
/** A stream read whole before measuring, so the baseline RSS includes what streaming needs. */
const WARM_UP_BYTES = 8 * MiB;
/** Calls served by the gateway while the stream stalls: the window in which it could read on. */
const CALLS_DURING_STALL = 20;

/**
 * A TCP relay in front of mock-claude that counts the bytes it hands the gateway and emits
 * 'blocked' when the gateway's socket is full (the gateway stopped reading), 'flowing' on drain.
 */
class CountingRelay extends EventEmitter {
  forwarded = 0;
  /** Upstream connections the gateway is not reading right now. */
  blocked = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(readonly server: Server) {
    super();
  }

  static async start(target: URL): Promise<CountingRelay> {
    const relay: CountingRelay = new CountingRelay(createServer((gateway) => relay.pipe(gateway, target)));
    relay.server.listen(0, '127.0.0.1');
    await once(relay.server, 'listening');
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private pipe(gateway: Socket, target: URL): void {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [gateway, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined).on('close', () => (this.sockets.delete(s), gateway.destroy(), upstream.destroy()));
    }
    gateway.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      this.forwarded += chunk.length;
      this.emit('forwarded');
      if (gateway.write(chunk)) return;
      upstream.pause();
      this.blocked += 1;
      this.emit('blocked');
      gateway.once('drain', () => {
        this.blocked -= 1;
        this.emit('flowing');
        upstream.resume();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Resident set size of process `pid` in bytes, from /proc (Linux). */
function rssOf(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib) * 1024;
}

/** Resolves when `text` appears in what `stream` emits. */
function lineOn(stream: NodeJS.ReadableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        stream.off('data', onData);
        resolve();
      }
    };
    stream.on('data', onData);
  });
}

let dir: string;
let mock: MockClaude;
let relay: CountingRelay;
let gateway: ChildProcess;
let url: string;
let token: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-backpressure-'));
  const apiKey = 'sk-test-backpressure';
  mock = await MockClaude.start({ apiKey });
  relay = await CountingRelay.start(new URL(mock.url));
  const config = join(dir, 'sluice.yaml');
  await writeFile(
    config,
    [
      'connections:',
      `  - { name: anthropic, baseUrl: "${relay.url}", apiKeyEnv: SLUICE_TEST_UPSTREAM_KEY }`,
      // The other calls bypass the relay, so what it counts is the stream alone.
      `  - { name: direct, baseUrl: "${mock.url}", apiKeyEnv: SLUICE_TEST_UPSTREAM_KEY }`,
      `limits: { responseBytes: ${2 * ANSWER_BYTES} }`,
      'audit: { anchorIntervalSeconds: 0 }',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    SLUICE_TEST_UPSTREAM_KEY: apiKey,
    SLUICE_PORT: String(port),
    SLUICE_STATE_DIR: dir,
    SLUICE_LOG_LEVEL: 'warn',
    SLUICE_POLICY_BUNDLE: inject('policyBundle'),
    SLUICE_AUDIT_FILE: join(dir, 'audit.jsonl'),
  };
  const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
  gateway = spawn(process.execPath, [SLUICE, 'serve', '--config', config], { env, stdio });
  const exited = once(gateway, 'exit').then(([code]) => {
    throw new Error(`sluice serve exited with ${String(code)} before listening`);
  });
  await Promise.race([lineOn(gateway.stderr!, 'Sluice is listening'), exited]);
  const args = [SLUICE, 'token', '--config', config, '--sub', 'slow-reader', '--groups', 'admins'];
  token = (await promisify(execFile)(process.execPath, args, { env })).stdout.trim();
});

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    gateway.kill('SIGKILL');
    await once(gateway, 'exit');
  }
  await relay?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

const headers = (): Record<string, string> => ({
  authorization: `Bearer ${token}`,
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
});
const body = (stream: boolean): string =>
  JSON.stringify({
    model: 'claude-haiku-4-5',
    max_tokens: 64,
    stream,
    messages: [{ role: 'user', content: 'write a lot' }],
  });

/** One ordinary call through the gateway (on the connection that bypasses the relay), answered by the echo. */
async function echoCall(): Promise<number> {
  const res = await fetch(`${url}/c/direct/v1/messages`, { method: 'POST', headers: headers(), body: body(false) });
  await res.arrayBuffer();
  return res.status;
}

/** A caller on a raw socket that reads the stream's first bytes, then stops reading. */
interface SlowReader {
  /** Bytes read so far (headers included). */
  readonly received: () => number;
  /** The status line, once READ_BEFORE_STALL bytes are in and reading has stopped. */
  readonly head: Promise<string>;
  readonly socket: Socket;
}

function slowReader(): SlowReader {
  const { port, hostname } = new URL(url);
  const socket = connect(Number(port), hostname);
  const payload = body(true);
  const length = Buffer.byteLength(payload);
  const lines = ['POST /v1/messages HTTP/1.1', `host: ${hostname}:${port}`, `content-length: ${length}`];
  socket.write([...lines, ...Object.entries(headers()).map(([k, v]) => `${k}: ${v}`), '', payload].join('\r\n'));
  let received = 0;
  let first = '';
  const head = new Promise<string>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      if (first === '') first = chunk.toString('latin1').split('\r\n')[0]!;
      received += chunk.length;
      if (received >= READ_BEFORE_STALL) {
        socket.pause();
        resolve(first);
      }
    });
  });
  return { received: () => received, head, socket };
}

describe('a caller that stops reading a stream', () => {
  it('stalls the upstream and keeps the gateway memory bounded, while other calls are served', async () => {
    // Warm up so the baseline is a running gateway's (heap grown, code compiled, pools open): ordinary
    // calls and one whole large stream read at full speed through the relay.
    for (let i = 0; i < CALLS_DURING_STALL; i++) expect(await echoCall()).toBe(200);
    mock.setFault({ kind: 'large-answer', bytes: WARM_UP_BYTES });
    const warmUp = once(mock, 'large-answer');
    const warm = await fetch(`${url}/v1/messages`, { method: 'POST', headers: headers(), body: body(true) });
    expect((await warm.arrayBuffer()).byteLength).toBeGreaterThan(WARM_UP_BYTES);
    await warmUp;
    const pid = gateway.pid!;
    const baseline = rssOf(pid);
    const before = relay.forwarded;
    mock.setFault({ kind: 'large-answer', bytes: ANSWER_BYTES });
    const answered = once(mock, 'large-answer').then(([end]) => end as LargeAnswerEnd);

    // Watch every upstream chunk: fail as soon as the gateway runs ahead of the caller.
    let peakRss = baseline;
    let lastSample = before;
    const violation = new Promise<never>((_, reject) => {
      // Runs on relay events only, so never before `reader` below is set (no await in between).
      const watch = (): void => {
        if (relay.forwarded - lastSample >= MiB) {
          lastSample = relay.forwarded;
          peakRss = Math.max(peakRss, rssOf(pid));
        }
        const lag = relay.forwarded - before - reader.received();
        const growth = peakRss - baseline;
        if (lag > LAG_BOUND || growth > RSS_BOUND) {
          relay.off('forwarded', watch);
          reject(new Error(`gateway ran ahead of its caller: ${mib(lag)} upstream bytes unread, RSS +${mib(growth)}`));
        }
      };
      relay.on('forwarded', watch);
      onTestFinished(() => void relay.off('forwarded', watch));
    });
    violation.catch(() => undefined); // awaited below; not unhandled when the test ends otherwise

    const reader = slowReader();
    expect(await Promise.race([reader.head, violation])).toBe('HTTP/1.1 200 OK');
    mock.setFault(undefined); // the stream is under way; the calls below get plain echo answers
    // The gateway stops reading the upstream once the caller's socket is full. The relay blocks now
    // and then while buffers fill, so the stall counts once CALLS_DURING_STALL other calls went
    // through the gateway with no upstream byte moving: its event loop ran all along, and a gateway
    // that kept reading would have read on (and the watch above would fail it).
    let atStall = -1;
    let rounds = 0;
    while (relay.blocked === 0 || relay.forwarded !== atStall) {
      rounds += 1;
      await Promise.race([relay.blocked > 0 ? undefined : once(relay, 'blocked'), violation]);
      atStall = relay.forwarded;
      for (let i = 0; i < CALLS_DURING_STALL; i++) expect(await Promise.race([echoCall(), violation])).toBe(200);
    }
    peakRss = Math.max(peakRss, rssOf(pid));
    expect(relay.forwarded - before - reader.received()).toBeLessThan(LAG_BOUND);
    expect(peakRss - baseline).toBeLessThan(RSS_BOUND);
    console.info(
      `stalled stream: caller read ${mib(reader.received())}, upstream sent ${mib(relay.forwarded - before)}, ` +
        `gateway RSS ${mib(baseline)} → peak ${mib(peakRss)}, stall settled in ${rounds} round(s)`,
    );

    // The caller leaves: the gateway cancels the upstream, which never sent more than the bound.
    reader.socket.destroy();
    const end = await answered;
    expect(end.complete).toBe(false);
    expect(end.bytesWritten).toBeLessThan(LAG_BOUND + 16 * MiB);
  }, 20_000);
});

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
