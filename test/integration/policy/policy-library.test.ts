/**
 * The policy library through the real WASM bundle: keyword and regex blocks (403 with the
 * block's reason), token-size approvals, business hours with break-glass. Proves the builtins
 * these rules use (regex.match, floor, to_number, substring) run under opa-wasm.
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { execFile } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { buildBundle, defaultOpaBin } from '../../../gateway/policy/bundle-build.ts';
import { readBundle } from '../../../gateway/policy/bundle-reader.ts';
import { PolicyEngine } from '../../../gateway/policy/wasm-engine.ts';
import { policyInput, tempDir } from '../../helpers/policy-fixtures.ts';

const run = promisify(execFile);

let shipped: PolicyEngine;
let withHours: PolicyEngine;
/**
 * The policies with their Rego fallback, driven directly without the gateway's text matching: Rego matches the
 * text.
 */
let regoOnly: LoadedPolicy;

beforeAll(async () => {
  shipped = await PolicyEngine.fromBundle(inject('policyBundle'));
  // What `opa test` evaluates: policies/ with text_rules_fallback.rego, which bundles leave out.
  const regoBundle = join(await tempDir(), 'rego.tar.gz');
  await run(
    defaultOpaBin(),
    ['build', '-b', '-t', 'wasm', '-e', 'sluice/decision', '--ignore', '*_test.rego', '-o', regoBundle, '.'],
    { cwd: 'policies' },
  );
  const bundle = await readBundle(regoBundle);
  regoOnly = await loadPolicy(bundle.wasm);
  regoOnly.setData(bundle.data);
  // The same policies with business hours switched on for ci.
  const dir = join(await tempDir(), 'policies');
  await cp('policies', dir, { recursive: true });
  const file = join(dir, 'sluice/library/data.json');
  const library = JSON.parse(await readFile(file, 'utf8')) as { hours: { groups: string[] } };
  library.hours.groups = ['ci'];
  await writeFile(file, JSON.stringify(library));
  withHours = await PolicyEngine.fromBundle(
    (await buildBundle({ policiesDir: dir, outFile: join(dir, '..', 'h.tar.gz'), revision: 'hours' })).file,
  );
});

describe('policy library', () => {
  it('blocks keywords and regex patterns with the rule’s reason', () => {
    const keyword = shipped.evaluateWithResult(
      policyInput({ request: { text: 'Plan for Project NIGHTINGALE' } }),
    ).decision;
    expect(keyword).toMatchObject({
      kind: 'deny',
      reasons: ['the prompt names Project Nightingale, an embargoed codename'],
    });
    const pattern = shipped.evaluateWithResult(
      policyInput({ request: { text: 'curl https://build-7.corp.example.com/x' } }),
    ).decision;
    expect(pattern).toMatchObject({
      kind: 'deny',
      reasons: ['the prompt contains an internal hostname (*.corp.example.com)'],
    });
    expect(pattern.labels.checks as string[]).toContain('block');
  });

  it('asks for an approval above the group’s input-token threshold', () => {
    const big = shipped.evaluateWithResult(policyInput({ request: { estimated_input_tokens: 150_000 } })).decision;
    expect(big.kind).toBe('approval_required');
    expect(big.kind === 'approval_required' && big.approval.reason).toMatch(/about 150000 tokens, above the 100000/);
    expect(shipped.evaluateWithResult(policyInput({ request: { estimated_input_tokens: 90_000 } })).decision.kind).toBe(
      'allow',
    );
  });

  it('refuses a restricted group outside business hours unless it breaks glass', () => {
    const ci = (now: string, scopes: string[] = []) =>
      withHours.evaluateWithResult(
        policyInput({ identity: { groups: ['ci'], scopes }, request: { model: 'claude-haiku-4-5' }, now }),
      ).decision;
    expect(ci('2025-06-02T10:00:00.000Z').kind).toBe('allow'); // Monday 10:00 UTC
    expect(ci('2025-06-02T22:00:00.000Z')).toMatchObject({
      kind: 'deny',
      reasons: ['outside business hours for your groups; use the break-glass scope in an emergency'],
    });
    expect(ci('2025-06-01T10:00:00.000Z').kind).toBe('deny'); // Sunday
    expect(ci('2025-06-01T10:00:00.000Z', ['sluice:break-glass']).kind).toBe('allow');
    expect(
      shipped.evaluateWithResult(
        policyInput({
          identity: { groups: ['ci'] },
          request: { model: 'claude-haiku-4-5' },
          now: '2025-06-01T03:00:00.000Z',
        }),
      ).decision.kind,
    ).toBe('allow');
  });

  it('decides the same whether the gateway matches the text rules (the prompt never in WASM) or Rego does', () => {
    expect(shipped.readsText).toBe(false);
    const texts = [
      'Plan for Project NIGHTINGALE',
      'project  nightingale',
      'nightingales sing at corp.example.org',
      'curl https://build-7.corp.example.com/x',
      'ssh DB-01.CORP.EXAMPLE.COM',
      '-.corp.example.com',
      'x.corp.example.community',
      `${'a-'.repeat(40)}a.corp.example.com`,
      'Please send the Wire Transfer today',
      'customer database export of production credentials',
      'ünïcödé wire transfer ☃',
      '',
      'the project night\ningale plan',
      'Wire\t\ttransfer',
      'wiretransfer',
      'production\ncredentials',
    ];
    for (const text of texts) {
      const input = policyInput({ request: { text } });
      const viaGateway = shipped.evaluateWithResult(input).result;
      const viaRego = (regoOnly.evaluate(input, 'sluice/decision') as { result: unknown }[])[0]!.result;
      expect(viaGateway, text).toEqual(viaRego);
    }
  });
});
