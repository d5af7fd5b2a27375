import { createHash } from 'node:crypto';
/**
 * kill -9 with calls in flight: every call that reached the upstream already has its decision in
 * the audit file (written before forwarding), and `sluice audit verify` names those calls, and only
 * those, as incomplete (no exchange record) while the chain itself verifies. The calls that ended
 * before the kill keep exactly one decision and one exchange record each.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MockClaude } from '../../gateway/dev/mock-claude.ts';
import { freePort } from '../helpers/free-port.ts';

const SLUICE = 'gateway/bin/sluice.mjs';
const DONE = 5;
const IN_FLIGHT = 40;
let server: ChildProcess | undefined;
let upstream: MockClaude | undefined;
let dir: string | undefined;
afterAll(async () => {
  server?.kill('SIGKILL');
  await upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('calls in flight when the gateway is killed', () => {
  it('each has its decision in the audit file; verify reports them incomplete and the chain intact', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-kill-'));
    upstream = await MockClaude.start({ apiKey: 'k-test' });
    const port = await freePort();
    const auditFile = join(dir, 'audit.jsonl');
    const configFile = join(dir, 'sluice.yaml');
    const config = {
      listen: { port },
      stateDir: dir,
      connections: [{ name: 'anthropic', baseUrl: upstream.url, apiKeyEnv: 'UPSTREAM_KEY' }],
      policy: { bundle: inject('policyBundle'), buildIfMissing: false },
      audit: { file: { path: auditFile }, anchorIntervalSeconds: 0 },
      log: { level: 'warn' },
    };
    await writeFile(configFile, JSON.stringify(config));
    const env = { ...process.env, UPSTREAM_KEY: 'k-test' };
    server = spawn(process.execPath, [SLUICE, 'serve', '--config', configFile], { env, stdio: 'pipe' });
    let stderr = '';
    server.stderr!.on('data', (chunk) => (stderr += chunk));
    await expect.poll(() => stderr, { timeout: 20_000, interval: 100 }).toContain('Sluice is listening');
    const run = promisify(execFile);
    const tokenArgs = [SLUICE, 'token', '--config', configFile, '--sub', 'kim', '--groups', 'engineering'];
    const token = (await run(process.execPath, tokenArgs, { env })).stdout.trim();

    // Each call's prompt carries a marker, so what reached the upstream can be matched to its decision.
    const headers = {
      authorization: `Bearer ${token}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    };
    const send = (marker: string) => {
      const messages = [{ role: 'user', content: `hello ${marker}.` }];
      const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages });
      return fetch(`http://127.0.0.1:${port}/v1/messages`, { method: 'POST', headers, body });
    };
    const done = Array.from({ length: DONE }, (_, i) => `done-${i}`);
    for (const res of await Promise.all(done.map(send))) expect(res.status).toBe(200);
    // From here the upstream never answers: every call stays in flight until the gateway dies.
    upstream.setFault({ kind: 'hang' });
    const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) => `in-flight-${i}`);
    const calls = inFlight.map((m) => send(m).catch(() => undefined));
    await expect.poll(() => upstream!.requests.length, { timeout: 20_000 }).toBe(DONE + IN_FLIGHT);
    server.kill('SIGKILL');
    await once(server, 'exit');
    await Promise.all(calls);

    type Event = { kind: string; decision_id: string; input?: { request?: { text?: { sha256: string } } } };
    const events = (await readFile(auditFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Event);
    const decisions = events.filter((e) => e.kind === 'decision');
    const records = events.filter((e) => e.kind === 'exchange');
    // The decision holds the prompt's digest, not the prompt: the marker's call is the one whose text hashes to it.
    const digest = (marker: string) => createHash('sha256').update(`hello ${marker}.`).digest('hex');
    const decisionOf = (marker: string): Event[] =>
      decisions.filter((d) => d.input?.request?.text?.sha256 === digest(marker));
    // Every call that reached the upstream has exactly one decision in the file.
    const reached = upstream.requests.map((r) => /hello ((?:done|in-flight)-\d+)\./.exec(r.text)?.[1]);
    expect(reached.sort()).toEqual([...done, ...inFlight].sort());
    for (const marker of reached) expect(decisionOf(marker!), marker).toHaveLength(1);
    // The calls that ended: one exchange record each. The ones in flight: none.
    for (const marker of done) {
      expect(records.filter((r) => r.decision_id === decisionOf(marker)[0]!.decision_id)).toHaveLength(1);
    }
    expect(records).toHaveLength(DONE);
    expect(decisions).toHaveLength(DONE + IN_FLIGHT);

    const verify = await run(process.execPath, [SLUICE, 'audit', 'verify', auditFile], { env })
      .then((r) => ({ code: 0, stdout: r.stdout }))
      .catch((err: { stdout: string; code: number }) => ({ code: err.code, stdout: err.stdout }));
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^OK: /);
    const line = verify.stdout.split('\n').find((l) => l.includes('incomplete:'));
    expect(line).toContain(`incomplete: ${IN_FLIGHT} decision(s) without an exchange record`);
    for (const marker of inFlight) expect(line).toContain(decisionOf(marker)[0]!.decision_id);
    for (const marker of done) expect(line).not.toContain(decisionOf(marker)[0]!.decision_id);
  });
});
