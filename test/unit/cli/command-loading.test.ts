/**
 * Each CLI command loads its own modules only: `sluice token --print` runs every time Claude Code
 * needs its key, and must not start by loading the gateway (Fastify, the policy engine, the
 * embedded database) or the audit sinks' clients. Run as a real process; a preloaded script
 * reports which packages Node's module cache holds at exit.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testTempDir } from '../../helpers/temp-dirs.ts';

const GATEWAY_PACKAGES = ['fastify', '@open-policy-agent/opa-wasm', '@electric-sql/pglite', 'kafkajs', 'undici'];

/** Runs `sluice ...args` and returns which of GATEWAY_PACKAGES it loaded. */
async function packagesLoadedBy(args: string[]): Promise<string[]> {
  const dir = await testTempDir('sluice-cli-load-');
  const report = join(dir, 'report.cjs');
  await writeFile(
    report,
    `process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));`,
  );
  const run = promisify(execFile)(process.execPath, ['--require', report, 'gateway/bin/sluice.mjs', ...args]);
  const { stderr } = await run.catch((err: { stderr: string }) => err);
  const files = JSON.parse(/^LOADED (.*)$/m.exec(stderr)![1]!) as string[];
  return GATEWAY_PACKAGES.filter((name) => files.some((file) => file.includes(`/node_modules/${name}/`)));
}

describe('CLI command loading', () => {
  it('token --print loads none of the gateway', async () => {
    const dir = await testTempDir('sluice-cli-load-');
    expect(await packagesLoadedBy(['token', '--print', '--cache', join(dir, 'none.json')])).toEqual([]);
  });

  it('help loads none of the gateway either', async () => {
    expect(await packagesLoadedBy(['help'])).toEqual([]);
  });

  it('sees what a command does load: bundle verify, the policy engine', async () => {
    const dir = await testTempDir('sluice-cli-load-');
    const empty = join(dir, 'empty');
    await writeFile(empty, ''); // refused as a key; the command's modules are loaded by then
    expect(await packagesLoadedBy(['bundle', 'verify', empty, '--key', empty])).toContain(
      '@open-policy-agent/opa-wasm',
    );
  });
});
