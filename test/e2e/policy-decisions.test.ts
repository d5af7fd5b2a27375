/**
 * The shipped example policy, through the whole gateway: least privilege per group for models,
 * skills, tools and max_tokens, with the policy's reason shown to the caller. A denied call never
 * reaches the upstream.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

type CreateParams = Anthropic.Beta.Messages.MessageCreateParamsNonStreaming;
const base: CreateParams = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };

async function expectDenied(groups: string[], params: Partial<CreateParams>, reason: RegExp): Promise<void> {
  const client = await h.client(groups);
  const before = h.upstream.requests.length;
  const call = client.beta.messages.create({ ...base, ...params });
  await expect(call).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
  const err = (await call.catch((e: unknown) => e)) as InstanceType<typeof Anthropic.PermissionDeniedError>;
  expect(err.status).toBe(403);
  const body = (err.error as { error: { type: string; message: string } }).error;
  expect(body.type).toBe('permission_error');
  expect(body.message).toMatch(reason);
  expect(h.upstream.requests.length).toBe(before);
}

async function expectAllowed(groups: string[], params: Partial<CreateParams>): Promise<void> {
  const client = await h.client(groups);
  const msg = await client.beta.messages.create({ ...base, ...params });
  expect(msg.type).toBe('message');
}

describe('least privilege per group', () => {
  it(
    'models: ci may use haiku but not sonnet or opus; ' + 'engineering may use sonnet; admins any claude model',
    async () => {
      await expectAllowed(['ci'], { model: 'claude-haiku-4-5' });
      await expectDenied(['ci'], { model: 'claude-sonnet-4-6' }, /model "claude-sonnet-4-6"/);
      await expectAllowed(['engineering'], { model: 'claude-sonnet-4-6' });
      await expectDenied(['engineering'], { model: 'claude-opus-4-7' }, /model "claude-opus-4-7"/);
      await expectAllowed(['admins'], { model: 'claude-opus-4-7' });
    },
  );

  it('skills: engineering may load xlsx but not an unlisted skill; ci may load none', async () => {
    const skill = (skill_id: string) => ({
      betas: ['skills-2025-10-02'],
      container: { skills: [{ type: 'anthropic' as const, skill_id, version: 'latest' }] },
    });
    await expectAllowed(['engineering'], skill('xlsx'));
    await expectDenied(['engineering'], skill('docx'), /skill "docx"/);
    await expectDenied(['ci'], skill('xlsx'), /skill "xlsx"/);
  });

  it('tools: engineering may declare get_weather but not an unlisted tool; ci may declare none', async () => {
    const tool = (name: string) => ({ tools: [{ name, input_schema: { type: 'object' as const, properties: {} } }] });
    await expectAllowed(['engineering'], tool('get_weather'));
    await expectDenied(['engineering'], tool('delete_database'), /tool "delete_database"/);
    await expectDenied(['ci'], tool('get_weather'), /tool "get_weather"/);
  });

  it('max_tokens: a ceiling per group, the highest of the caller’s groups applies', async () => {
    await expectDenied(['ci'], { max_tokens: 4096 }, /max_tokens 4096/);
    await expectAllowed(['ci', 'engineering'], { max_tokens: 4096 });
  });

  it('a caller in no known group is denied with a reason, even for listing models', async () => {
    await expectDenied(['marketing'], {}, /group/);
    const client = await h.client([]);
    await expect(client.models.list()).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
  });
});
