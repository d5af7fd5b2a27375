/**
 * The real Claude Code CLI (@anthropic-ai/claude-code, print mode) through Sluice to the echo
 * upstream, as a member of `engineering` with the shipped policy: with the Sluice token as
 * ANTHROPIC_AUTH_TOKEN (Bearer), and through an apiKeyHelper (sent as x-api-key). Claude Code
 * runs with HOME in a temp dir and its non-essential traffic off, so nothing leaves this machine.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECHO_PREFIX } from '../../gateway/dev/mock-claude.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const run = promisify(execFile);
const CLAUDE = 'node_modules/.bin/claude';
// Claude Code's default model is an Opus; the shipped engineering group allows Sonnet and Haiku.
const MODEL = 'claude-sonnet-4-5';

let h: Harness;
let home: string;

beforeAll(async () => {
  h = await startHarness();
  home = await mkdtemp(join(tmpdir(), 'sluice-claude-code-'));
});
afterAll(async () => {
  await h?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

interface ClaudeResult {
  readonly is_error: boolean;
  readonly result: string;
  readonly api_error_status?: number | null;
}

/** Runs `claude -p PROMPT` against Sluice with `env` on top of a clean environment (no real key). */
async function claude(prompt: string, env: Record<string, string>): Promise<ClaudeResult> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('ANTHROPIC_') && !k.startsWith('CLAUDE_')),
  );
  const { stdout } = await run(CLAUDE, ['-p', prompt, '--model', MODEL, '--output-format', 'json'], {
    env: {
      ...clean,
      HOME: home,
      ANTHROPIC_BASE_URL: h.url,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      ...env,
    },
    timeout: 60_000,
  }).catch((err: { stdout?: string; stderr?: string }) => {
    if (err.stdout) return { stdout: err.stdout };
    throw new Error(`claude failed without output: ${err.stderr ?? ''}`);
  });
  return JSON.parse(stdout) as ClaudeResult;
}

describe('Claude Code through Sluice', () => {
  it('answers a prompt for an engineering token, its client tools allowed and the token never upstream', async () => {
    const token = await h.token(['engineering'], 'cc-user');
    const before = h.upstream.requests.length;
    const out = await claude('say hello through the gateway', { ANTHROPIC_AUTH_TOKEN: token });
    expect(out.is_error).toBe(false);
    expect(out.result.startsWith(ECHO_PREFIX)).toBe(true);
    const sent = h.upstream.requests.slice(before).filter((r) => r.path === '/v1/messages');
    expect(sent.length).toBeGreaterThan(0);
    const first = sent[0]!;
    expect(first.headers['x-api-key']).toBe(h.upstreamKey);
    expect(first.headers.authorization).toBeUndefined();
    expect(first.text).not.toContain(token);
    const tools = ((first.body as { tools?: { name: string }[] }).tools ?? []).map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['Bash', 'Read', 'Edit']));
    const events = await h.auditEvents();
    const decisions = events.filter((e) => e.kind === 'decision' && e.subject === 'cc-user');
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions.every((e) => e.kind === 'decision' && (e.outcome === 'allow' || e.outcome === 'mask'))).toBe(true);
  });

  it("works with the token from Claude Code's apiKeyHelper (x-api-key, and Bearer alike)", async () => {
    const token = await h.token(['engineering'], 'cc-helper');
    await mkdir(join(home, '.claude'), { recursive: true });
    const helper = join(home, 'sluice-token.sh');
    await writeFile(helper, `#!/bin/sh\necho '${token}'\n`, { mode: 0o700 });
    await writeFile(join(home, '.claude', 'settings.json'), JSON.stringify({ apiKeyHelper: helper }));
    try {
      const out = await claude('say hello via the key helper', {});
      expect(out.is_error).toBe(false);
      expect(out.result.startsWith(ECHO_PREFIX)).toBe(true);
      const events = await h.auditEvents();
      const decided = events.filter((e) => e.kind === 'decision' && e.subject === 'cc-helper');
      expect(decided.length).toBeGreaterThan(0);
      expect(decided.every((e) => e.kind === 'decision' && (e.outcome === 'allow' || e.outcome === 'mask'))).toBe(true);
    } finally {
      await rm(join(home, '.claude', 'settings.json'), { force: true });
    }
  });

  it('is refused for a caller whose groups do not allow its tools, and says why', async () => {
    const out = await claude('say hello', { ANTHROPIC_AUTH_TOKEN: await h.token(['ci'], 'cc-ci') });
    expect(out.is_error).toBe(true);
    expect(out.api_error_status).toBe(403);
    expect(out.result).toContain('is not allowed for your groups (ci)');
  });
});
