/**
 * Message Batches through Sluice with the official SDK: every request of a batch is decided and
 * masked as a messages.create (one decision event per custom_id), a batch with a refused
 * request is refused whole, results are masked per custom_id as its decision said, and every
 * `results_url` the caller sees points at Sluice, so the SDK fetches results through it.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import type { DecisionEventBody, ExchangeRecordBody } from '../../gateway/audit/events.ts';
import { verifyChain } from '../../gateway/cli/audit-verify.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { bundleWithData } from '../helpers/policy-variant.ts';

const EMAIL = 'jane.roe@example.org';
const IP = '203.0.113.77';
// A look-alike test key (right shape, not a real key).
const ANT_KEY = `sk-ant-api03-${'Zx9'.repeat(30)}Q7`;
const SONNET = 'claude-sonnet-4-5';
const HAIKU = 'claude-haiku-4-5';

let h: Harness;
beforeAll(async () => {
  // The shipped policy, plus one masking rule by model: answers of Haiku requests lose IP addresses too,
  // so two requests of one batch get different response masking.
  const policyBundle = await bundleWithData((data) => {
    const masking = data.masking as { rules: unknown[] };
    const rule = {
      name: 'haiku answers',
      groups: ['engineering'],
      models: ['claude-haiku-*'],
      response: ['IP_ADDRESS'],
    };
    masking.rules.push(rule);
    // Administrators: a small daily token budget of their own, for the batch budget check.
    (data.budgets as { subject: Record<string, unknown> }).subject.admins = { window: 'day', tokens: 1000 };
  });
  h = await startHarness({ policyBundle, mock: { batchProcessingMs: 1000 } });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

/** An SDK client that records every URL it calls and every body it receives. */
async function recordingClient(groups: string[], sub = 'alice'): Promise<{ client: Anthropic; seen: string[] }> {
  const seen: string[] = [];
  const client = new Anthropic({
    baseURL: h.url,
    authToken: await h.token(groups, sub),
    apiKey: null,
    maxRetries: 0,
    fetch: async (url: string | URL | Request, init?: RequestInit) => {
      seen.push(String(url instanceof Request ? url.url : url));
      const res = await fetch(url, init);
      seen.push(await res.clone().text());
      return res;
    },
  });
  return { client, seen };
}

const ask = (text: string, model = SONNET): Anthropic.Messages.MessageCreateParamsNonStreaming => ({
  model,
  max_tokens: 256,
  messages: [{ role: 'user', content: text }],
});

async function decisionsOf(batchDecisionId: string): Promise<DecisionEventBody[]> {
  return (await h.auditEvents())
    .filter((e) => e.kind === 'decision')
    .map((e) => e as DecisionEventBody)
    .filter((e) => e.batch_decision_id === batchDecisionId);
}

async function lastSession(operation: string): Promise<ExchangeRecordBody> {
  const sessions = (await h.auditEvents()).filter((e) => e.kind === 'exchange' && e.operation === operation);
  return sessions.at(-1) as ExchangeRecordBody;
}

describe('Message Batches through Sluice', () => {
  it('creates, retrieves, lists, reads the results of and deletes a batch; results_url is on Sluice', async () => {
    const { client, seen } = await recordingClient(['engineering']);
    const created = await client.messages.batches.create({
      requests: [
        { custom_id: 'plain', params: ask('hello batch') },
        { custom_id: 'with-email', params: ask(`write to ${EMAIL} please`) },
      ],
    });
    expect(created.processing_status).toBe('in_progress');
    expect(created.results_url).toBeNull();

    // What went upstream: the masked requests, exactly what the policy decided on.
    const sent = h.upstream.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages/batches').at(-1)!;
    expect(sent.text).not.toContain(EMAIL);
    expect(sent.text).toContain('write to [EMAIL_1] please');
    expect(sent.headers['x-api-key']).toBe(h.upstreamKey);

    // One decision event per custom_id, tied to the batch call, the masked one naming its mask.
    const session = await lastSession('batches.create');
    const inner = await decisionsOf(session.decision_id);
    expect(inner.map((d) => [d.custom_id, d.outcome])).toEqual([
      ['plain', 'allow'],
      ['with-email', 'mask'],
    ]);
    expect(inner[1]!.masks_applied).toEqual([{ type: 'EMAIL', count: 1, path: 'request.messages[0].content' }]);
    expect(JSON.stringify(await h.auditEvents())).not.toContain(EMAIL);
    expect(session.masks_applied).toEqual([
      { type: 'EMAIL', count: 1, path: 'request.requests[1].params.messages[0].content' },
    ]);

    await h.upstream.batchEnded(created.id);
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.processing_status).toBe('ended');
    expect(ended.results_url).toBe(`${h.url}/v1/messages/batches/${created.id}/results`);
    const listed = await client.messages.batches.list();
    expect(listed.data.find((b) => b.id === created.id)?.results_url).toBe(ended.results_url);

    const results = [];
    for await (const line of await client.messages.batches.results(created.id)) results.push(line);
    expect(results.map((r) => [r.custom_id, r.result.type])).toEqual([
      ['plain', 'succeeded'],
      ['with-email', 'succeeded'],
    ]);
    const echoed = results[1]!.result.type === 'succeeded' ? results[1]!.result.message.content : [];
    // The model saw the placeholder; batch results are not restored (the value is not kept after the call).
    expect(JSON.stringify(echoed)).toContain('[EMAIL_1]');
    expect((await lastSession('batches.results')).response?.body).toEqual({ result_counts: { succeeded: 2 } });

    const deleted = await client.messages.batches.delete(created.id);
    expect(deleted).toEqual({ id: created.id, type: 'message_batch_deleted' });

    // The SDK only ever called Sluice and never received an upstream URL.
    const urls = seen.filter((_, i) => i % 2 === 0);
    expect(urls.every((u) => u.startsWith(`${h.url}/`))).toBe(true);
    expect(urls).toContain(`${h.url}/v1/messages/batches/${created.id}/results`);
    expect(seen.join('\n')).not.toContain(h.upstream.url);
  });

  it("settles each result's usage against its request's budgets once, however often the results are read", async () => {
    const sub = 'batcher';
    const { client } = await recordingClient(['engineering'], sub);
    const token = await h.token(['engineering'], sub);
    const counters = async () => {
      const res = await fetch(`${h.url}/sluice/api/usage`, { headers: { authorization: `Bearer ${token}` } });
      const { data } = (await res.json()) as {
        data: Array<{ tokens: number; requests: number; reserved_tokens: number }>;
      };
      return data.reduce((sum, r) => ({ tokens: sum.tokens + r.tokens, requests: sum.requests + r.requests }), {
        tokens: 0,
        requests: 0,
      });
    };
    const created = await client.messages.batches.create({
      requests: [
        { custom_id: 'one', params: ask('first batch request') },
        { custom_id: 'two', params: ask('second, a little longer batch request', HAIKU) },
      ],
    });
    // Creating the batch reserves nothing: its use is not known until its results are.
    const before = await counters();
    await h.upstream.batchEnded(created.id);
    const read = async () => {
      const lines = [];
      for await (const line of await client.messages.batches.results(created.id)) lines.push(line);
      return lines;
    };
    const results = await read();
    const reported = results.reduce((n, r) => {
      if (r.result.type !== 'succeeded') return n;
      const u = r.result.message.usage;
      return (
        n + u.input_tokens + u.output_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0)
      );
    }, 0);
    expect(reported).toBeGreaterThan(0);
    const after = await counters();
    expect(after).toEqual({ tokens: before.tokens + reported, requests: before.requests + 2 });
    // Read again (the SDK, or another instance): counted once.
    expect(await read()).toHaveLength(2);
    expect(await counters()).toEqual(after);
    // The team's cost budget (the shipped policy: engineering, by month) got the cost of both too.
    const admin = await h.token(['admins'], 'root');
    const team = await fetch(`${h.url}/sluice/api/usage?key=group%3Aengineering`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const [month] = ((await team.json()) as { data: Array<{ cost_usd: number }> }).data;
    expect(month!.cost_usd).toBeGreaterThan(0);
  });

  it('refuses a batch whose requests do not fit what is left of a budget, before it goes upstream', async () => {
    const { client } = await recordingClient(['admins'], 'ada');
    const creates = () => h.upstream.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages/batches');
    const before = creates().length;
    // 1000 tokens a day; each request estimates ~260 (its input + max_tokens 256): four do not fit.
    const four = Array.from({ length: 4 }, (_, i) => ({ custom_id: `r${i}`, params: ask(`request ${i}`) }));
    const refused = await client.messages.batches.create({ requests: four }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refused as InstanceType<typeof Anthropic.RateLimitError>).message).toMatch(/budget \\"subject:ada\\"/);
    expect(creates().length).toBe(before);
    // Three fit (nothing is held for them: their use is added when the results are read).
    const three = await client.messages.batches.create({ requests: four.slice(0, 3) });
    expect(three.processing_status).toBe('in_progress');
    expect(creates().length).toBe(before + 1);
  });

  it('points results_url at the connection prefix the caller used, and cancels', async () => {
    const token = await h.token(['engineering']);
    const client = new Anthropic({ baseURL: `${h.url}/c/secondary`, authToken: token, apiKey: null, maxRetries: 0 });
    const created = await client.messages.batches.create({ requests: [{ custom_id: 'a', params: ask('cancel me') }] });
    const canceling = await client.messages.batches.cancel(created.id);
    expect(canceling.processing_status).toBe('canceling');
    await h.upstream.batchEnded(created.id);
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.request_counts.canceled).toBe(1);
    expect(ended.results_url).toBe(`${h.url}/c/secondary/v1/messages/batches/${created.id}/results`);
    const results = [];
    for await (const line of await client.messages.batches.results(created.id)) results.push(line);
    expect(results).toEqual([{ custom_id: 'a', result: { type: 'canceled' } }]);
  });

  it('masks each result as its own decision said', async () => {
    const client = await h.client(['engineering']);
    const prompt = `key ${ANT_KEY} from ${IP}`;
    const created = await client.messages.batches.create({
      requests: [
        { custom_id: 'sonnet', params: ask(prompt, SONNET) },
        { custom_id: 'haiku', params: ask(prompt, HAIKU) },
      ],
    });
    // Neither credentials nor IP addresses are masked in engineering's prompts: the upstream gets them.
    expect(h.upstream.requests.at(-1)!.text).toContain(ANT_KEY);
    await h.upstream.batchEnded(created.id);
    const texts: Record<string, string> = {};
    for await (const line of await client.messages.batches.results(created.id)) {
      texts[line.custom_id] = line.result.type === 'succeeded' ? JSON.stringify(line.result.message.content) : '';
    }
    expect(texts.sonnet).not.toContain(ANT_KEY);
    expect(texts.sonnet).toContain('[ANTHROPIC_API_KEY_');
    expect(texts.sonnet).toContain(IP);
    expect(texts.haiku).not.toContain(ANT_KEY);
    expect(texts.haiku).not.toContain(IP);
    expect(texts.haiku).toContain('[IP_ADDRESS_');
    const session = await lastSession('batches.results');
    expect(session.masks_applied.map((m) => m.type).sort()).toEqual(['ANTHROPIC_API_KEY', 'IP_ADDRESS']);
    expect(JSON.stringify(session)).not.toContain(IP);
    // The upstream got the key (the policy let it through), the audit never does: not in the batch record either.
    expect(JSON.stringify(await h.auditEvents())).not.toContain(ANT_KEY);
  });

  it('refuses a batch whole when one request is denied or needs an approval, naming each', async () => {
    const client = await h.client(['engineering']);
    const before = h.upstream.requests.length;
    const refused = await client.messages.batches
      .create({
        requests: [
          { custom_id: 'fine', params: ask('hello') },
          { custom_id: 'opus', params: ask('hello', 'claude-opus-4-1') },
          { custom_id: 'wire', params: ask('please do a wire transfer today') },
        ],
      })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const message = ((refused as InstanceType<typeof Anthropic.APIError>).error as { error: { message: string } }).error
      .message;
    expect(message).toContain('request "opus": denied by policy: model "claude-opus-4-1" is not allowed');
    expect(message).toContain('request "wire": requires a human approval');
    expect(message).toContain('approvals are for interactive calls');
    expect(message).not.toContain('"fine"');
    expect(h.upstream.requests.length).toBe(before);
    const session = await lastSession('batches.create');
    expect(session.error?.code).toBe('SLUICE_ERR_BATCH_REFUSED');
    const inner = await decisionsOf(session.decision_id);
    expect(inner.map((d) => [d.custom_id, d.outcome])).toEqual([
      ['fine', 'allow'],
      ['opus', 'deny'],
      ['wire', 'approval_required'],
    ]);
  });

  it('refuses a group the policy grants no batches, and a malformed batch', async () => {
    const ci = await h.client(['ci']);
    await expect(
      ci.messages.batches.create({ requests: [{ custom_id: 'a', params: ask('hi', HAIKU) }] }),
    ).rejects.toThrow(/batches\.create.{0,2} is not allowed for your groups \(ci\)/);
    const res = await fetch(`${h.url}/v1/messages/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await h.token(['engineering'])}`, 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ custom_id: 'a', params: { ...ask('hi'), stream: true } }] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'requests[0].params.stream: a batch request cannot stream',
    );
  });

  it("keeps a batch its creator's: another subject can neither see nor touch it (404)", async () => {
    const alice = await h.client(['engineering'], 'alice');
    const bob = await h.client(['engineering'], 'bob');
    const created = await alice.messages.batches.create({ requests: [{ custom_id: 'a', params: ask('mine') }] });
    await h.upstream.batchEnded(created.id);
    const refusals = await Promise.all([
      bob.messages.batches.retrieve(created.id).catch((e: unknown) => e),
      bob.messages.batches.cancel(created.id).catch((e: unknown) => e),
      bob.messages.batches.delete(created.id).catch((e: unknown) => e),
      fetch(`${h.url}/v1/messages/batches/${created.id}/results`, {
        headers: { authorization: `Bearer ${await h.token(['engineering'], 'bob')}` },
      }),
    ]);
    for (const refusal of refusals.slice(0, 3)) expect(refusal).toBeInstanceOf(Anthropic.NotFoundError);
    expect((refusals[3] as Response).status).toBe(404);
    expect((await bob.messages.batches.list()).data.map((b) => b.id)).not.toContain(created.id);
    expect((await alice.messages.batches.list()).data.map((b) => b.id)).toContain(created.id);
    // Still there for alice: none of bob's calls reached it.
    expect((await alice.messages.batches.retrieve(created.id)).processing_status).toBe('ended');
  });

  it("leaves an audit trail that verifies whole: each request's decision ends with its batch call", async () => {
    await h.auditEvents();
    const lines = (await readFile(h.auditFile, 'utf8')).split('\n').filter(Boolean);
    const report = verifyChain(lines.map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` })));
    expect(report.problems).toEqual([]);
    expect(report.incomplete).toEqual([]);
    const inner = (await h.auditEvents()).filter((e) => e.kind === 'decision' && e.custom_id !== undefined);
    expect(inner.length).toBeGreaterThan(0);
  });

  it("checks what each request names as a single message: bob's batch naming alice's file is refused", async () => {
    const alice = await h.client(['engineering'], 'alice');
    const bob = await h.client(['engineering'], 'bob');
    const file = await alice.beta.files.upload({
      file: await toFile(Buffer.from('alice only'), 'alice.txt', { type: 'text/plain' }),
      betas: ['files-api-2025-04-14'],
    });
    const naming = (fileId: string): Anthropic.Messages.MessageCreateParamsNonStreaming => ({
      ...ask('summarise'),
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'file', file_id: fileId } } as never,
            { type: 'text', text: 'summarise' },
          ],
        },
      ],
    });
    const mine = await alice.messages.batches.create({ requests: [{ custom_id: 'own', params: naming(file.id) }] });
    expect(mine.id).toMatch(/^msgbatch_/);

    const before = h.upstream.requests.length;
    const refused = (await bob.messages.batches
      .create({
        requests: [
          { custom_id: 'fine', params: ask('hello') },
          { custom_id: 'theirs', params: naming(file.id) },
          { custom_id: 'nowhere', params: naming('file_011CNoSuchFile0000000') },
          {
            custom_id: 'skill',
            params: { ...ask('go'), container: { skills: [{ type: 'custom', skill_id: 'skill_01NotKnown' }] } },
          },
        ],
      })
      .catch((err: unknown) => err)) as InstanceType<typeof Anthropic.APIError>;
    expect(refused).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const message = (refused.error as { error: { message: string } }).error.message;
    expect(message).toContain(`request "theirs": not found: file ${file.id}`);
    expect(message).toContain('request "nowhere": not found: file file_011CNoSuchFile0000000');
    expect(message).toContain('request "skill": not found: skill skill_01NotKnown');
    expect(message).not.toContain('"fine"');
    // Nothing says whose file it is, nor that it exists.
    expect(message).not.toMatch(/alice|belongs|owner/);
    expect(h.upstream.requests.length).toBe(before);
    // The audit keeps the policy's reason for the request naming alice's file.
    const inner = await decisionsOf((await lastSession('batches.create')).decision_id);
    const theirs = inner.find((d) => d.custom_id === 'theirs');
    expect(theirs?.reasons).toEqual([`file ${file.id} belongs to another subject`]);
  });

  it('answers 404 for the results of a batch not created through Sluice', async () => {
    const direct = new Anthropic({ baseURL: h.upstream.url, apiKey: h.upstreamKey, maxRetries: 0 });
    const created = await direct.messages.batches.create({ requests: [{ custom_id: 'x', params: ask('direct') }] });
    await h.upstream.batchEnded(created.id);
    const res = await fetch(`${h.url}/v1/messages/batches/${created.id}/results`, {
      headers: { authorization: `Bearer ${await h.token(['engineering'])}` },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });
});
