/**
 * Builders for policy tests: a typical policy input with per-section overrides, and throwaway
 * policy directories and bundles for the failure cases (bad builtins, broken contracts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildBundle } from '../../gateway/policy/bundle-build.ts';
import type { PolicyInput } from '../../gateway/policy/input.ts';
import { testTempDir } from './temp-dirs.ts';

/** Overrides for policyInput: each section is merged over the default one. */
export interface PolicyInputOverrides {
  readonly identity?: Partial<PolicyInput['identity']>;
  readonly connection?: string;
  readonly request?: Partial<PolicyInput['request']>;
  readonly session?: PolicyInput['session'];
  readonly approval?: PolicyInput['approval'];
  readonly now?: string;
}

/**
 * A messages.create call by alice (engineering) on the default connection for claude-sonnet-4-5,
 * 1024 tokens, no skills or tools: allowed by the shipped policy, so each test changes only
 * what it is about.
 */
export function policyInput(overrides: PolicyInputOverrides = {}): PolicyInput {
  return {
    identity: {
      sub: 'alice',
      iss: 'https://idp.example',
      client_id: 'cli',
      groups: ['engineering'],
      scopes: [],
      token_id: 'tok-1',
      issued_at: 1_700_000_000,
      expires_at: 1_700_000_900,
      issuer_name: 'default',
      claims: {},
      ...overrides.identity,
    },
    connection: overrides.connection ?? 'anthropic',
    request: {
      operation: 'messages.create',
      model: 'claude-sonnet-4-5',
      stream: false,
      max_tokens: 1024,
      skills: [],
      tools: [],
      mcp_servers: [],
      tool_choice: null,
      container: null,
      media: { images: 0, documents: 0, bytes: 0 },
      betas: [],
      estimated_input_tokens: 12,
      text: 'Summarise the quarterly report in three bullet points.',
      findings: {},
      ...overrides.request,
    },
    session: overrides.session ?? null,
    approval: overrides.approval ?? null,
    now: overrides.now ?? '2025-06-01T12:00:00.000Z',
  };
}

/** A skill entry of `container.skills`. */
export function skill(skill_id: string): PolicyInput['request']['skills'][number] {
  return { type: 'anthropic', skill_id, version: 'latest' };
}

/** A custom tool declaration as the inspect stage reports it. */
export function tool(name: string, type = 'custom'): PolicyInput['request']['tools'][number] {
  return { name, type, family: type === 'custom' ? name : type.replace(/_\d{8}$/, '') };
}

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = 'sluice-policy-'): Promise<string> {
  return testTempDir(prefix);
}

/** Writes `files` (relative path → content) under a fresh directory and returns it. */
export async function writePolicies(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('sluice-policies-');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

/** Builds a bundle from one Rego module in package sluice; returns the bundle path. */
export async function bundleOf(rego: string, revision = 'fixture'): Promise<string> {
  const policiesDir = await writePolicies({ 'sluice/decision.rego': `package sluice\n\n${rego}\n` });
  const built = await buildBundle({
    policiesDir,
    outFile: join(await tempDir('sluice-bundle-'), 'sluice.tar.gz'),
    revision,
  });
  return built.file;
}
