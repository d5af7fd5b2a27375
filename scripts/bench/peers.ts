/**
 * The peer gateways, started the way their users run them and pointed at the same mock upstream:
 * Portkey's open-source gateway with a regex guardrail on the prompt, and LiteLLM's proxy.
 * Installed by scripts/bench/install-peers.sh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Target } from './measure.ts';

export interface RunningPeer {
  readonly process: ChildProcess;
  readonly target: Target;
}

/** A card-number-like pattern: the same kind of check Sluice's policy and masking make. */
const GUARDRAIL_RULE = '\\b(?:\\d[ -]?){13,16}\\b';

async function waitUntilUp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}

export async function startPortkey(upstreamUrl: string, upstreamKey: string, port: number): Promise<RunningPeer> {
  const child = spawn(
    process.execPath,
    ['.tools/peers/portkey/node_modules/@portkey-ai/gateway/build/start-server.js', `--port=${port}`, '--headless'],
    {
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: 'ignore',
    },
  );
  await waitUntilUp(`http://127.0.0.1:${port}/`, 20_000);
  const config = {
    provider: 'anthropic',
    api_key: upstreamKey,
    custom_host: `${upstreamUrl}/v1`,
    input_guardrails: [{ 'default.regexMatch': { rule: GUARDRAIL_RULE, not: true }, deny: true }],
  };
  return {
    process: child,
    target: { url: `http://127.0.0.1:${port}`, headers: { 'x-portkey-config': JSON.stringify(config) } },
  };
}

export async function startLiteLlm(
  upstreamUrl: string,
  upstreamKey: string,
  port: number,
  dir: string,
): Promise<RunningPeer> {
  const configFile = join(dir, 'litellm.yaml');
  const masterKey = `sk-litellm-${Date.now()}`;
  await writeFile(
    configFile,
    [
      'model_list:',
      '  - model_name: claude-sonnet-4-6',
      '    litellm_params:',
      '      model: anthropic/claude-sonnet-4-6',
      `      api_base: ${upstreamUrl}`,
      '      api_key: os.environ/BENCH_UPSTREAM_KEY',
      'general_settings:',
      `  master_key: ${masterKey}`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    '.tools/peers/litellm/bin/litellm',
    ['--config', configFile, '--port', String(port), '--num_workers', '1'],
    {
      env: { ...process.env, BENCH_UPSTREAM_KEY: upstreamKey },
      stdio: 'ignore',
    },
  );
  await waitUntilUp(`http://127.0.0.1:${port}/health/liveliness`, 60_000);
  return {
    process: child,
    target: { url: `http://127.0.0.1:${port}`, headers: { authorization: `Bearer ${masterKey}` } },
  };
}
