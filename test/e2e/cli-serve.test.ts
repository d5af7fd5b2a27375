/**
 * README.md's five-minute walkthrough as a user runs it: `sluice serve` on embedded defaults (what
 * `npm start` ends in: dev issuer, local echo upstream, file audit), a token from `sluice token`, a
 * call with the official SDK, `sluice audit verify`, then SIGTERM. Logs carry the decision id and
 * never the token or the prompt text.
 */
import Anthropic from '@anthropic-ai/sdk';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/free-port.ts';
import { testTempDir } from '../helpers/temp-dirs.ts';

const SLUICE = 'gateway/bin/sluice.mjs';
let server: ChildProcess | undefined;
let dir: string | undefined;
afterAll(async () => {
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('sluice serve on embedded defaults', () => {
  it("is what README.md's walkthrough runs: npm start, sluice token, the SDK, audit verify", () => {
    // If the walkthrough changes, this test must follow it (and the other way round).
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toMatch(/^npm start$/m);
    expect(readme).toContain('npx sluice token --sub alice --groups engineering');
    expect(readme).toContain(
      "new Anthropic({ baseURL: 'http://127.0.0.1:8080', authToken: process.env.SLUICE_TOKEN, apiKey: null })",
    );
    expect(readme).toContain('[echo from mock-claude]');
    expect(readme).toContain('npx sluice audit verify .sluice/audit/audit.jsonl');
  });

  it('serves the SDK through the echo upstream, logs decision ids without secrets, and stops cleanly', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
    const port = await freePort();
    const { ANTHROPIC_API_KEY: _ignored, ...baseEnv } = process.env;
    const env = {
      ...baseEnv,
      SLUICE_PORT: String(port),
      SLUICE_STATE_DIR: dir,
      SLUICE_POLICY_BUNDLE: inject('policyBundle'),
      SLUICE_AUDIT_FILE: join(dir, 'audit.jsonl'),
    };
    server = spawn(process.execPath, [SLUICE, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    server.stdout!.on('data', (chunk) => (stdout += chunk));
    server.stderr!.on('data', (chunk) => (stderr += chunk));
    await expect.poll(() => stderr, { timeout: 20_000, interval: 100 }).toContain('Sluice is listening');
    expect(stderr).toContain('LOCAL ECHO');

    const { stdout: tokenOut } = await promisify(execFile)(
      process.execPath,
      [SLUICE, 'token', '--sub', 'carol', '--groups', 'engineering'],
      { env },
    );
    const token = tokenOut.trim();
    expect(token.split('.')).toHaveLength(3);

    const client = new Anthropic({
      baseURL: `http://127.0.0.1:${port}`,
      authToken: token,
      apiKey: null,
      maxRetries: 0,
    });
    const prompt = 'confidential-prompt-marker-7f3a';
    const msg = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: prompt }],
    });
    expect(msg.content[0]).toMatchObject({ type: 'text', text: `[echo from mock-claude] ${prompt}` });

    server.kill('SIGTERM');
    const [code] = await once(server, 'exit');
    expect(code).toBe(0);
    const recorded = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; decision_id?: string; outcome?: string });
    // One access line per request, with the decision it ended in.
    const decisionLog = recorded.find((l) => l.msg === 'request' && l.decision_id !== undefined);
    expect(decisionLog).toMatchObject({ outcome: 'allow', decision_id: expect.any(String), status: 200 });
    expect(recorded.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
    expect(stdout).not.toContain(token.split('.')[2]);
    expect(stdout).not.toContain(prompt);
    const audit = await readFile(join(dir, 'audit.jsonl'), 'utf8');
    expect(audit).toContain(decisionLog!.decision_id!);

    // The final chain head is logged at shutdown; with it, verify catches the removal of the last event.
    const heads = (recorded as Array<{ msg: string; audit_chain_head?: string }>).filter(
      (l) => l.msg === 'audit chain head',
    );
    expect(heads).toHaveLength(1);
    const head = heads[0]!.audit_chain_head!;
    const lines = audit.trim().split('\n');
    expect(head).toMatch(new RegExp(`^[0-9a-f-]{36}:${lines.length}:[0-9a-f]{64}$`));
    const verify = (file: string): Promise<number> =>
      promisify(execFile)(process.execPath, [SLUICE, 'audit', 'verify', file, '--head', head], { env }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    expect(await verify(join(dir, 'audit.jsonl'))).toBe(0);
    await writeFile(join(dir, 'cut.jsonl'), `${lines.slice(0, -1).join('\n')}\n`);
    expect(await verify(join(dir, 'cut.jsonl'))).toBe(1);
  });

  it('a config with typos: every problem printed with its code, exit 78, nothing started', async () => {
    const cfgDir = await testTempDir('sluice-cfg-');
    const file = join(cfgDir, 'sluice.yaml');
    await writeFile(file, 'listen:\n  host: 0.0.0.0\nidentity:\n  isuer: https://idp.example.com\n');
    const env = { ...process.env, SLUICE_STATE_DIR: cfgDir };
    const run = promisify(execFile)(process.execPath, [SLUICE, 'serve', '--config', file], { env });
    const failed = await run.then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    await rm(cfgDir, { recursive: true, force: true });
    expect(failed?.code).toBe(78);
    const unknownKey = '[SLUICE_ERR_CONFIG_UNKNOWN_KEY] identity';
    expect(failed?.stderr).toContain(`${unknownKey}.isuer: unknown key (did you mean identity.issuer?)`);
    expect(failed?.stderr).toContain('[SLUICE_ERR_CONFIG_NO_ISSUER] identity.issuer: not set, and listen.host 0.0.0.0');
    expect(failed?.stderr).not.toContain('Sluice is listening');
  });

  it('a port already in use: the code, the cause and the fix printed, a non-zero exit', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const cfgDir = await mkdtemp(join(tmpdir(), 'sluice-port-'));
    const file = join(cfgDir, 'sluice.yaml');
    await writeFile(file, `listen:\n  port: ${port}\n`);
    // Never used: the gateway stops at listen, before any upstream call.
    const env = { ...process.env, SLUICE_STATE_DIR: cfgDir, ANTHROPIC_API_KEY: 'not-a-real-key' };
    const run = promisify(execFile)(process.execPath, [SLUICE, 'serve', '--config', file], { env });
    const failed = await run.then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    await new Promise((resolve) => taken.close(resolve));
    await rm(cfgDir, { recursive: true, force: true });
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('sluice serve: SLUICE_ERR_START_PORT_IN_USE');
    expect(failed?.stderr).toContain(`cause: 127.0.0.1:${port} is already in use by another process`);
    expect(failed?.stderr).toMatch(/fix: stop that process, or set listen\.port/);
  });

  it('sluice audit tail into a reader that stops early (| head) ends quietly with exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-pipe-'));
    const file = join(dir, 'audit.jsonl');
    const line = (i: number) =>
      JSON.stringify({ kind: 'access', timestamp: new Date(0).toISOString(), subject: `s${i}` });
    await writeFile(file, `${Array.from({ length: 50_000 }, (_, i) => line(i)).join('\n')}\n`);
    const child = spawn(process.execPath, [SLUICE, 'audit', 'tail', '--file', file, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await once(child.stdout, 'data');
    child.stdout.destroy(); // the reader goes away, as head does after its lines
    const [code] = (await once(child, 'exit')) as [number | null];
    await rm(dir, { recursive: true, force: true });
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('sluice token refuses a lifetime above the dev issuer maximum', async () => {
    const run = promisify(execFile)(process.execPath, [SLUICE, 'token', '--ttl', '86400'], {
      env: { ...process.env, SLUICE_STATE_DIR: dir ?? tmpdir() },
    });
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/ttl/i) });
  });
});
