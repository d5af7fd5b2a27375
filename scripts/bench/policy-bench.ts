/**
 * `node --import tsx scripts/bench/policy-bench.ts [--quick]`: the policy's own costs, outside
 * HTTP. (1) Bundle swap: the whole hot-reload path (unpack, signature check, WASM instantiate,
 * smoke evaluation, swap) for a signed bundle built from policies/, and for an unsigned one.
 * (2) Evaluation per request (PolicyEngine.evaluateWithResult: input → WASM → parsed decision)
 * in microseconds, for a typical request and for one with a 64 KiB prompt, back to back and
 * after the process sat idle for 1, 5 and 20 ms (cold caches, as between a quiet gateway's calls).
 * Writes bench-results/policy.json. Keys are generated for the run and deleted after.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';
import { loadVerificationKey } from '../../gateway/policy/bundle-verify.ts';
import type { PolicyInput } from '../../gateway/policy/input.ts';
import { PolicyLoader } from '../../gateway/policy/policy-loader.ts';
import { PolicyStore } from '../../gateway/policy/policy-store.ts';

const quick = process.argv.includes('--quick');
const SWAPS = quick ? 10 : 40;
const EVALS = quick ? 5_000 : 50_000;
/** Evaluations measured after each idle pause (20 ms × 300 = 6 s). */
const IDLE_EVALS = quick ? 30 : 300;

function stats(
  samples: number[],
  scale: number,
): { p50: number; p99: number; p999: number; mean: number; count: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * scale * 10) / 10;
  return {
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    mean: Math.round((s.reduce((a, b) => a + b, 0) / s.length) * scale * 10) / 10,
    count: s.length,
  };
}

function input(text: string): PolicyInput {
  return {
    identity: {
      sub: 'alice',
      iss: 'https://idp.example',
      client_id: 'cli',
      groups: ['engineering'],
      scopes: [],
      token_id: 't',
      issued_at: 1_700_000_000,
      expires_at: 1_700_000_900,
      issuer_name: 'default',
      claims: {},
    },
    connection: 'anthropic',
    request: {
      operation: 'messages.create',
      model: 'claude-sonnet-4-5',
      stream: false,
      max_tokens: 1024,
      skills: [{ type: 'anthropic', skill_id: 'pdf', version: 'latest' }],
      tools: [{ name: 'web_search', type: 'web_search_20250305', family: 'web_search' }],
      mcp_servers: [],
      tool_choice: null,
      container: null,
      media: { images: 0, documents: 0, bytes: 0 },
      betas: [],
      estimated_input_tokens: Math.ceil(text.length / 4),
      text,
      findings: {},
    },
    session: null,
    approval: null,
    now: '2025-06-02T10:00:00.000Z',
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-policy-bench-'));
  try {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = join(dir, 'k.pem');
    const pubFile = join(dir, 'k.pub.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await writeFile(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const build = async (name: string, sign: boolean): Promise<Buffer> =>
      readFile(
        (
          await buildBundle({
            policiesDir: 'policies',
            outFile: join(dir, `${name}.tar.gz`),
            revision: name,
            ...(sign ? { signingKey: keyFile, signingAlg: 'ES256' as const } : {}),
          })
        ).file,
      );
    const signed = [await build('a', true), await build('b', true)];
    const unsigned = [await build('c', false), await build('d', false)];

    const swap = async (bundles: Buffer[], withKey: boolean): Promise<number[]> => {
      const loader = new PolicyLoader(new PolicyStore(), withKey ? await loadVerificationKey(pubFile) : undefined);
      const times: number[] = [];
      for (let i = 0; i < SWAPS + 2; i++) {
        const r = await loader.load(bundles[i % 2]!, `bench-${i}`);
        if (r.kind !== 'loaded') throw new Error(`bench bundle not loaded: ${JSON.stringify(r)}`);
        if (i >= 2) times.push(r.durationMs);
      }
      return times;
    };
    const swapSigned = stats(await swap(signed, true), 1);
    const swapUnsigned = stats(await swap(unsigned, false), 1);

    const store = new PolicyStore();
    await new PolicyLoader(store, undefined).load(unsigned[0]!, 'eval');
    const engine = store.current()!;
    const evalOf = (text: string): ReturnType<typeof stats> => {
      const i = input(text);
      for (let n = 0; n < Math.min(2000, EVALS / 5); n++) engine.evaluateWithResult(i);
      const samples: number[] = [];
      for (let n = 0; n < EVALS; n++) {
        const t = process.hrtime.bigint();
        engine.evaluateWithResult(i);
        samples.push(Number(process.hrtime.bigint() - t));
      }
      return stats(samples, 1 / 1000);
    };
    const typicalText =
      'Summarise the attached quarterly report in three bullet points for the leadership team. '.repeat(45);
    const typical = evalOf(typicalText);
    const large = evalOf('x'.repeat(64 * 1024));
    // The same evaluation after the process sat idle, as between the calls of a quiet gateway:
    // whatever the caches and branch predictors lost while idle, the next call pays for.
    const afterIdle = async (idleMs: number): Promise<ReturnType<typeof stats>> => {
      const i = input(typicalText);
      const samples: number[] = [];
      for (let n = 0; n < IDLE_EVALS; n++) {
        await sleep(idleMs);
        const t = process.hrtime.bigint();
        engine.evaluateWithResult(i);
        samples.push(Number(process.hrtime.bigint() - t));
      }
      return stats(samples, 1 / 1000);
    };
    const idle = { '1ms': await afterIdle(1), '5ms': await afterIdle(5), '20ms': await afterIdle(20) };

    const result = {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
      settings: { swaps: SWAPS, evaluations: EVALS, quick, bundleBytes: signed[0]!.length },
      swapMs: { signedES256: swapSigned, unsigned: swapUnsigned },
      evaluationMicros: { typical4KiBPrompt: typical, prompt64KiB: large, typicalAfterIdle: idle },
    };
    await mkdir('bench-results', { recursive: true });
    await writeFile('bench-results/policy.json', `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `bundle swap (unpack+verify+instantiate+smoke+swap): ` +
        `signed p50 ${swapSigned.p50} ms, p99 ${swapSigned.p99} ms; ` +
        `unsigned p50 ${swapUnsigned.p50} ms\n` +
        `evaluation per request: typical p50 ${typical.p50} µs, p99 ${typical.p99} µs; ` +
        `64 KiB prompt p50 ${large.p50} µs, p99 ${large.p99} µs\n` +
        `typical after the process sat idle: 1 ms p50 ${idle['1ms'].p50} µs, 5 ms p50 ${idle['5ms'].p50} µs, ` +
        `20 ms p50 ${idle['20ms'].p50} µs (back to back: ${typical.p50} µs)\n` +
        'written to bench-results/policy.json\n',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
