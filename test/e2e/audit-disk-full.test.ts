/**
 * A full audit disk, for real: `sluice serve` runs as its own process with the audit file on a
 * small tmpfs that the test fills. Fail-closed (the default): the gateway must not crash, must
 * refuse the calls it cannot record (503 in Anthropic's error shape, SLUICE_ERR_AUDIT_UNAVAILABLE
 * in the record) and report not ready, and must recover by itself when space returns, with every
 * event of every answered call in the file and the chain intact. Fail-open: calls go on, said at
 * error level and counted, and the queued events reach the file once space returns.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { MockClaude } from '../../gateway/dev/mock-claude.ts';
import { freePort } from '../helpers/free-port.ts';
import { smallDisk } from '../helpers/small-disk.ts';

const SLUICE = 'gateway/bin/sluice.mjs';
const run = promisify(execFile);
const disk = smallDisk('sluice-full-disk-', '1m');

let upstream: MockClaude | undefined;
let dir: string | undefined;
let server: ChildProcess | undefined;
beforeAll(async () => {
  upstream = await MockClaude.start({ apiKey: 'k-test' });
  dir = await mkdtemp(join(tmpdir(), 'sluice-full-disk-state-'));
});
afterEach(async () => {
  // A gateway a failed test left running still holds its audit file open: umount would fail.
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
    await once(server, 'exit');
  }
  disk.free();
});
afterAll(async () => {
  await upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  disk.remove();
});

interface Gateway {
  readonly url: string;
  readonly token: string;
  readonly auditFile: string;
  readonly configFile: string;
  readonly logs: () => string;
}

/** `sluice serve` in its own process, its audit file on the small filesystem. */
async function startGateway(name: string, onWriteFailure: 'fail-closed' | 'fail-open'): Promise<Gateway> {
  const port = await freePort();
  const auditFile = join(disk.mountPoint, `${name}.jsonl`);
  const configFile = join(dir!, `${name}.json`);
  const config = {
    listen: { port },
    stateDir: dir,
    connections: [{ name: 'anthropic', baseUrl: upstream!.url, apiKeyEnv: 'UPSTREAM_KEY' }],
    policy: { bundle: inject('policyBundle'), buildIfMissing: false },
    // fail-closed is the default: left unset, so the default is what is tested.
    audit: {
      file: { path: auditFile },
      anchorIntervalSeconds: 0,
      ...(onWriteFailure === 'fail-open' ? { onWriteFailure } : {}),
    },
    log: { level: 'info' },
  };
  await writeFile(configFile, JSON.stringify(config));
  const env = { ...process.env, UPSTREAM_KEY: 'k-test' };
  const child = spawn(process.execPath, [SLUICE, 'serve', '--config', configFile], { env, stdio: 'pipe' });
  server = child;
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  await expect.poll(() => stderr, { timeout: 20_000, interval: 100 }).toContain('Sluice is listening');
  const args = [SLUICE, 'token', '--config', configFile, '--sub', 'kim', '--groups', 'engineering'];
  const token = (await run(process.execPath, args, { env })).stdout.trim();
  return { url: `http://127.0.0.1:${port}`, token, auditFile, configFile, logs: () => stdout };
}

const userTurn = { role: 'user', content: 'hello' };
const hello = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [userTurn] });

interface Answer {
  readonly status: number;
  readonly body: { type?: string; error?: { type: string; message: string } };
}

async function call(g: Gateway): Promise<Answer> {
  const res = await fetch(`${g.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${g.token}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: hello,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

type Event = Record<string, unknown>;
const status = (r: Event): number | undefined => (r.response as { status?: number } | null)?.status;
const errorCode = (r: Event): string | undefined => (r.error as { code?: string } | undefined)?.code;

/** One of the file sink's /metrics values, e.g. write_failures_total. */
async function fileMetric(g: Gateway, name: string): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  return Number(new RegExp(`^sluice_audit_file_${name} (\\S+)$`, 'm').exec(text)?.[1]);
}

/** SIGTERM, the exit code, and the audit file's events (every line whole). */
async function stop(g: Gateway): Promise<{ code: number; events: Event[] }> {
  server!.kill('SIGTERM');
  const [exit] = (await once(server!, 'exit')) as [number];
  const text = await readFile(g.auditFile, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return {
    code: exit,
    events: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Event),
  };
}

/** `sluice audit verify` on the file: its exit code and report. */
async function verify(g: Gateway): Promise<{ code: number; stdout: string }> {
  return run(process.execPath, [SLUICE, 'audit', 'verify', g.auditFile])
    .then((r) => ({ code: 0, stdout: r.stdout }))
    .catch((err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }));
}

// Skipped only where mount(2) is refused (not root): the file sink's own retry is unit-tested with /dev/full.
describe.skipIf(!disk.mounted)('a full audit disk', () => {
  it('fail-closed: coded 503s and /readyz 503 while full, no crash, all recorded once space returns', async () => {
    const g = await startGateway('closed', 'fail-closed');
    expect((await call(g)).status).toBe(200);
    disk.fill();
    // A call whose decision cannot be written is refused before it goes upstream (write-ahead);
    // once the sink knows the disk is full, every call is refused at the door. The last bytes of
    // the file's page still take a line or two, so a few calls may be answered first.
    const atUpstream = upstream!.requests.length;
    let answered = 0;
    let refused: Answer | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const r = await call(g);
      if (r.status === 200) answered++;
      else refused = r;
    }
    const message = expect.stringMatching(/^audit trail unavailable, request refused \(fail closed\).*ENOSPC/);
    expect(refused).toEqual({ status: 503, body: { type: 'error', error: { type: 'api_error', message } } });
    expect(upstream!.requests.length - atUpstream).toBe(answered);
    await expect.poll(async () => (await fetch(`${g.url}/readyz`)).status, { timeout: 10_000 }).toBe(503);
    const ready = (await (await fetch(`${g.url}/readyz`)).json()) as { reason: string };
    expect(ready.reason).toMatch(/cannot be written \(ENOSPC\)/);
    expect((await call(g)).status).toBe(503);
    expect(await fileMetric(g, 'write_failures_total')).toBeGreaterThan(0);

    disk.free();
    await expect.poll(async () => (await fetch(`${g.url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    expect((await call(g)).status).toBe(200);
    expect(server!.exitCode).toBe(null);
    const { code, events } = await stop(g);
    expect(code).toBe(0);
    const decisions = events.filter((e) => e.kind === 'decision');
    const records = events.filter((e) => e.kind === 'exchange');
    // The first call, every call answered while the disk filled, and the one after recovery.
    expect(records.filter((r) => status(r) === 200)).toHaveLength(2 + answered);
    // The call refused by the write-ahead wait: its decision and its record, with the code, once space returned.
    expect(records.filter((r) => errorCode(r) === 'SLUICE_ERR_AUDIT_UNAVAILABLE')).toHaveLength(1);
    // Nothing lost: every decision written has its exchange record, the refused one included.
    expect(decisions.map((d) => d.decision_id).sort()).toEqual(records.map((r) => r.decision_id).sort());
    const report = await verify(g);
    expect(report).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: /) });
    expect(report.stdout).not.toContain('incomplete');
  });

  it('fail-open: calls are answered while full, logged and counted, and every event is written later', async () => {
    const g = await startGateway('open', 'fail-open');
    expect((await call(g)).status).toBe(200);
    disk.fill();
    const statuses: number[] = [];
    // Until a call has gone upstream with its decision unwritten (the page's last bytes first).
    for (let i = 0; i < 50 && !((await fileMetric(g, 'unrecorded_calls_total')) > 0); i++) {
      statuses.push((await call(g)).status);
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await fileMetric(g, 'unrecorded_calls_total')).toBeGreaterThan(0);
    expect(await fileMetric(g, 'write_failures_total')).toBeGreaterThan(0);
    expect(await fileMetric(g, 'pending_bytes')).toBeGreaterThan(0);
    expect((await fetch(`${g.url}/readyz`)).status).toBe(200);
    expect(g.logs()).toContain('audit file not writable (fail-open): calls go upstream before their decision');

    disk.free();
    await expect.poll(() => fileMetric(g, 'pending_bytes'), { timeout: 10_000 }).toBe(0);
    const { code, events } = await stop(g);
    expect(code).toBe(0);
    const records = events.filter((e) => e.kind === 'exchange');
    expect(records.filter((r) => status(r) === 200)).toHaveLength(1 + statuses.length);
    expect(events.filter((e) => e.kind === 'decision')).toHaveLength(1 + statuses.length);
    expect(await verify(g)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: /) });
  });
});
