/**
 * kill -9 with calls in flight: every call that reached the upstream already has its decision in
 * the audit file (written before forwarding), and `sluice audit verify` names those calls as
 * incomplete (no exchange record) while the chain itself verifies.
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
const CALLS = 12;
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
    upstream = await MockClaude.start({ apiKey: 'k-test', fault: { kind: 'hang' } });
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
    server = spawn(process.execPath, [SLUICE, 'serve', '--config', configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    server.stderr!.on('data', (chunk) => (stderr += chunk));
    await expect.poll(() => stderr, { timeout: 20_000, interval: 100 }).toContain('Sluice is listening');
    const run = promisify(execFile);
    const token = (await run(process.execPath, [SLUICE, 'token', '--config', configFile, '--sub', 'kim', '--groups', 'engineering'], { env })).stdout.trim();

    const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] });
    const headers = { authorization: `Bearer ${token}`, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
    const calls = Array.from({ length: CALLS }, () => fetch(`http://127.0.0.1:${port}/v1/messages`, { method: 'POST', headers, body }).catch(() => undefined));
    // Every call is at the upstream (which never answers) before the gateway dies.
    await expect.poll(() => upstream!.requests.length, { timeout: 10_000 }).toBe(CALLS);
    server.kill('SIGKILL');
    await once(server, 'exit');
    await Promise.all(calls);

    const events = (await readFile(auditFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; decision_id: string });
    const decisions = events.filter((e) => e.kind === 'decision');
    expect(decisions).toHaveLength(CALLS);
    expect(events.filter((e) => e.kind === 'session')).toHaveLength(0);

    const verify = await run(process.execPath, [SLUICE, 'audit', 'verify', auditFile], { env }).catch((err: { stdout: string; code: number }) => err);
    expect(verify.stdout).toMatch(/^OK: /);
    expect(verify.stdout).toContain(`incomplete: ${CALLS} decision(s) without an exchange record`);
    for (const d of decisions) expect(verify.stdout).toContain(d.decision_id);
  });
});
