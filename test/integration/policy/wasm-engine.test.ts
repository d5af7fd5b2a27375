/**
 * The shipped policy through the real opa-wasm: least privilege per group, and the engine
 * failing closed on every kind of broken bundle or policy.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultOpaBin } from '../../../gateway/policy/bundle-build.ts';
import type { Decision } from '../../../gateway/policy/decision.ts';
import { PolicyEngine } from '../../../gateway/policy/wasm-engine.ts';
import { expectSluiceError } from '../../unit/identity/expect-sluice-error.ts';
import {
  bundleOf,
  policyInput,
  skill,
  tempDir,
  tool,
  writePolicies,
  type PolicyInputOverrides,
} from '../../helpers/policy-fixtures.ts';

const run = promisify(execFile);

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await PolicyEngine.fromBundle(inject('policyBundle'));
});

function decide(groups: string[], overrides: PolicyInputOverrides = {}): Decision {
  return engine.evaluateWithResult(policyInput({ ...overrides, identity: { groups, ...overrides.identity } })).decision;
}

describe('the shipped policy', () => {
  it('allows engineering on sonnet with its skills and tools, with its limits, mask and session', () => {
    const d = decide(['engineering'], {
      request: {
        skills: [skill('xlsx'), skill('pdf')],
        tools: [tool('web_search', 'web_search_20250305'), tool('get_weather')],
      },
    });
    expect(d).toMatchObject({
      kind: 'allow',
      reasons: [],
      limits: { maxTokens: 32000 },
      session: { idleTimeoutSeconds: 900 },
      labels: { rule: 'grant', groups: ['engineering'] },
    });
    expect(d.kind === 'allow' && d.mask).toMatchObject({
      request: ['CREDIT_CARD', 'EMAIL', 'EMPLOYEE_ID', 'IBAN', 'PHONE', 'US_SSN'],
      style: 'placeholder',
      restore: true,
    });
    expect(d.kind === 'allow' && d.mask.response).toContain('ANTHROPIC_API_KEY');
    expect(engine.revision).toBe('test');
  });

  it.each([
    [['ci'], { model: 'claude-haiku-4-5', max_tokens: 2048 }, 'allow', []],
    [
      ['ci'],
      { model: 'claude-sonnet-4-5', max_tokens: 1024 },
      'deny',
      ['model "claude-sonnet-4-5" is not allowed for your groups (ci)'],
    ],
    [
      ['engineering'],
      { model: 'claude-opus-4-1' },
      'deny',
      ['model "claude-opus-4-1" is not allowed for your groups (engineering)'],
    ],
    [['admins'], { model: 'claude-opus-4-1', max_tokens: 64000 }, 'allow', []],
    [['admins'], { model: 'gpt-4o' }, 'deny', ['model "gpt-4o" is not allowed for your groups (admins)']],
    [
      ['engineering'],
      { skills: [skill('pptx')] },
      'deny',
      ['skill "pptx" is not allowed for your groups (engineering)'],
    ],
    [
      ['ci'],
      { model: 'claude-haiku-4-5', skills: [skill('pdf')] },
      'deny',
      ['skill "pdf" is not allowed for your groups (ci)'],
    ],
    [
      ['engineering'],
      { tools: [tool('delete_database')] },
      'deny',
      ['tool "delete_database" is not allowed for your groups (engineering)'],
    ],
    [
      ['ci'],
      { model: 'claude-haiku-4-5', tools: [tool('bash', 'bash_20250124')] },
      'deny',
      ['tool "bash" is not allowed for your groups (ci)'],
    ],
    [['engineering'], { max_tokens: 100000 }, 'deny', ['max_tokens 100000 exceeds your limit of 32000']],
    [['ci', 'engineering'], { max_tokens: 32000 }, 'allow', []],
    [['marketing'], {}, 'deny', ['no group of yours grants access']],
    [[], { operation: 'models.list', model: null, max_tokens: null }, 'deny', ['no group of yours grants access']],
    [['ci'], { operation: 'models.list', model: null, max_tokens: null }, 'allow', []],
    [['ci'], { operation: 'models.get', model: 'claude-opus-4-1', max_tokens: null }, 'allow', []],
    [['ci'], { operation: 'messages.count_tokens', model: 'claude-opus-4-1', max_tokens: null }, 'allow', []],
  ] as const)('groups %j, request %j → %s %j', (groups, request, kind, reasons) => {
    const d = decide([...groups], { request: request as PolicyInputOverrides['request'] });
    expect({ kind: d.kind, reasons: d.reasons }).toEqual({ kind, reasons });
  });

  it('grants the union of the caller’s groups; the highest max_tokens ceiling applies', () => {
    const d = decide(['ci', 'engineering'], { request: { model: 'claude-sonnet-4-5', tools: [tool('get_weather')] } });
    expect(d).toMatchObject({ kind: 'allow', limits: { maxTokens: 32000 }, labels: { groups: ['ci', 'engineering'] } });
  });

  it('lists every violation, sorted, and labels the failed checks', () => {
    const d = decide(['ci'], { request: { model: 'claude-opus-4-1', max_tokens: 4096, tools: [tool('bash')] } });
    expect(d.kind).toBe('deny');
    expect(d.reasons).toHaveLength(3);
    expect(d.labels).toEqual({ rule: 'deny', checks: ['max_tokens', 'model', 'tool'], groups: ['ci'] });
  });

  it('restricts connections per group', () => {
    expect(decide(['ci'], { connection: 'bedrock', request: { model: 'claude-haiku-4-5' } }).reasons).toEqual([
      'connection "bedrock" is not allowed for your groups (ci)',
    ]);
    expect(decide(['engineering'], { connection: 'bedrock' }).kind).toBe('allow');
  });

  it('denies a prompt that carries a private key outright, approved or not', () => {
    const denied = decide(['engineering'], { request: { findings: { PRIVATE_KEY: 1 } } });
    expect(denied).toMatchObject({
      kind: 'deny',
      reasons: ['the prompt contains PRIVATE_KEY, which may not be sent to Claude'],
    });
    const approved = decide(['engineering'], {
      request: { findings: { PRIVATE_KEY: 1 } },
      approval: { id: 'apr_1', state: 'approved', approver: 'bob' },
    });
    expect(approved.kind).toBe('deny');
  });

  it('builds the entity detector from the bundle data, custom entities included', () => {
    const found = engine.entities.detector.scan('badge EMP-123456 and bob@example.com');
    expect(found.map((m) => m.type)).toEqual(['EMPLOYEE_ID', 'EMAIL']);
  });
});

describe('fail closed', () => {
  it('refuses a corrupt tarball and a bundle without WASM at load', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'garbage.tar.gz'), 'definitely not a bundle');
    await expect(PolicyEngine.fromBundle(join(dir, 'garbage.tar.gz'))).rejects.toThrow(
      /garbage\.tar\.gz is not a readable \.tar\.gz/,
    );
    // A plain (rego target) bundle: valid tarball, manifest and data, but no WASM module.
    const regoOnly = join(dir, 'rego.tar.gz');
    await run(defaultOpaBin(), ['build', '-o', regoOnly, 'policies']);
    await expect(PolicyEngine.fromBundle(regoOnly)).rejects.toThrow(
      /rego\.tar\.gz has no WASM module at \/policy\.wasm/,
    );
  });

  it('refuses a bundle whose result does not match the contract, at load', async () => {
    await expect(PolicyEngine.fromBundle(await bundleOf('decision := {"allow": "yes"}'))).rejects.toThrow(
      /does not evaluate: policy result does not match the decision contract \(allow:/,
    );
    await expect(PolicyEngine.fromBundle(await bundleOf('decision := {"allow": true} if input.never'))).rejects.toThrow(
      /does not evaluate: policy sluice\/decision is undefined/,
    );
  });

  it('refuses a bundle whose text rules hold a pattern that could backtrack badly, at load', async () => {
    const bundle = await bundleOf(
      'decision := {"allow": true}\ntext_rules := {"patterns": ["(?i)\\\\b[a-z]+\\\\.corp"]}',
    );
    await expect(PolicyEngine.fromBundle(bundle)).rejects.toThrow(
      /sluice\/text_rules: pattern .*unbounded quantifiers/,
    );
  });

  it('passes the text rules it found to the policy, and reports them in the evaluated input', async () => {
    const engine = await PolicyEngine.fromBundle(
      await bundleOf(
        'text_rules := {"keywords": ["Falcon"]}\n' +
          'decision := {"allow": true, "reasons": input.request.text_matches.keywords}',
      ),
    );
    const { decision, input } = engine.evaluateWithResult(
      policyInput({ request: { text: 'the FALCON has landed', text_matches: { keywords: ['stale'], patterns: [] } } }),
    );
    expect(decision.reasons).toEqual(['falcon']);
    expect(input.request.text_matches).toEqual({ keywords: ['falcon'], patterns: [] });
  });

  it('gives back the memory a multi-MiB prompt grew, with a fresh instance that decides the same', async () => {
    // A policy that reads the prompt text itself, so the whole prompt is copied into WASM.
    const readsText = await PolicyEngine.fromBundle(
      await bundleOf(
        'default decision := {"allow": true}\n' +
          'decision := {"allow": false, "reasons": ["nightingale"]} if ' +
          'contains(lower(input.request.text), "nightingale")',
      ),
    );
    expect(readsText.readsText).toBe(true);
    const initial = readsText.memoryBytes;
    expect(
      readsText.evaluateWithResult(policyInput({ request: { text: 'project nightingale '.repeat(400_000) } })).decision
        .kind,
    ).toBe('deny');
    expect(readsText.memoryBytes).toBeGreaterThan(16 * 2 ** 20);
    await expect.poll(() => readsText.memoryBytes, { timeout: 5000 }).toBe(initial);
    expect(
      readsText.evaluateWithResult(policyInput({ request: { text: 'Plan for Project NIGHTINGALE' } })).decision,
    ).toMatchObject({ kind: 'deny', reasons: ['nightingale'] });
    expect(readsText.evaluateWithResult(policyInput()).decision.kind).toBe('allow');
  });

  it(
    'leaves the prompt out of the WASM input when the policy never reads it, ' + 'and still decides on its text rules',
    async () => {
      const fresh = await PolicyEngine.fromBundle(inject('policyBundle'));
      expect(fresh.readsText).toBe(false);
      const initial = fresh.memoryBytes;
      const text = 'project nightingale '.repeat(400_000);
      const { decision, input } = fresh.evaluateWithResult(
        policyInput({ identity: { groups: ['admins'] }, request: { text } }),
      );
      expect(decision).toMatchObject({
        kind: 'deny',
        reasons: ['the prompt names Project Nightingale, an embargoed codename'],
      });
      // 8 MB of prompt never reached WASM memory, yet the decision event's input still records it.
      expect(fresh.memoryBytes).toBe(initial);
      expect(input.request.text).toBe(text);
    },
  );

  it('refuses a WASM bundle compiled for another entrypoint', async () => {
    const dir = await writePolicies({ 'sluice/decision.rego': 'package sluice\n\nother := {"allow": true}\n' });
    const file = join(await tempDir(), 'other.tar.gz');
    await run(defaultOpaBin(), ['build', '-t', 'wasm', '-e', 'sluice/other', '-o', file, dir]);
    await expect(PolicyEngine.fromBundle(file)).rejects.toThrow(
      /other\.tar\.gz does not evaluate: the WASM module has no entrypoint sluice\/decision/,
    );
  });

  it(
    'answers SLUICE_ERR_POLICY_ERROR when a request makes the policy undefined, ' + 'trap or break the contract',
    async () => {
      const tricky = await PolicyEngine.fromBundle(
        await bundleOf(
          [
            'decision := {"allow": false, "reasons": ["ok"]} if input.request.model != "undefined-me"',
            'decision := {"allow": true} if input.request.model == "conflict"',
            'decision := {"allow": true, "limits": {"max_tokens": -5}} if { input.request.model == "undefined-me"; ' +
              'input.request.stream }',
          ].join('\n'),
        ),
      );
      await expectSluiceError(
        () => tricky.evaluateWithResult(policyInput({ request: { model: 'undefined-me' } })),
        'SLUICE_ERR_POLICY_ERROR',
        /undefined for this request/,
      );
      await expectSluiceError(
        () => tricky.evaluateWithResult(policyInput({ request: { model: 'conflict' } })),
        'SLUICE_ERR_POLICY_ERROR',
        /policy evaluation failed \(.*conflict/,
      );
      await expectSluiceError(
        () => tricky.evaluateWithResult(policyInput({ request: { model: 'undefined-me', stream: true } })),
        'SLUICE_ERR_POLICY_ERROR',
        /limits\.max_tokens/,
      );
      // The instance survives a trap: the next request is decided normally.
      expect(tricky.evaluateWithResult(policyInput()).decision).toMatchObject({ kind: 'deny', reasons: ['ok'] });
    },
  );
});
