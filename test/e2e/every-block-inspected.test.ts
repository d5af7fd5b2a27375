/**
 * Every string a model reads is inspected, through the whole gateway with the shipped policy:
 * PII in a search_result, a document title or thinking in history is masked before it leaves and
 * never written raw to the audit; a blocked keyword there is denied; a block type Sluice does not
 * know is refused (or, with inspect.unknownBlocks scan, scanned); MCP servers, server tools and
 * images are judged by the policy like the rest of the request.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const EMAIL = 'jane.roe@example.org';
const CARD = '4111 1111 1111 1111';
const MODEL = 'claude-sonnet-4-5';

let h: Harness;
let scanning: Harness;
beforeAll(async () => {
  [h, scanning] = await Promise.all([startHarness(), startHarness({ inspect: { unknownBlocks: 'scan' } })]);
});
afterAll(async () => {
  await Promise.all([h?.close(), scanning?.close()]);
});

interface Answer {
  status: number;
  body: { type: string; error?: { type: string; message: string } };
}

async function send(harness: Harness, groups: string[], body: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${harness.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await harness.token(groups)}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: MODEL, max_tokens: 256, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

const upstreamBody = (harness: Harness): string => JSON.stringify(harness.upstream.requests.at(-1)?.body);

async function auditText(harness: Harness): Promise<string> {
  return JSON.stringify(await harness.auditEvents());
}

/** A conversation whose PII sits only in fields the old walk skipped. */
const hiddenPii = {
  messages: [
    {
      role: 'user',
      content: [
        {
          type: 'search_result',
          source: 'https://kb.example/a',
          title: `Contact ${EMAIL}`,
          content: [{ type: 'text', text: `card ${CARD}` }],
        },
        {
          type: 'document',
          title: `Notes for ${EMAIL}`,
          context: 'from the CRM',
          source: { type: 'text', media_type: 'text/plain', data: 'nothing here' },
        },
        { type: 'text', text: 'Summarise.' },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: `The user is ${EMAIL}.`, signature: 'c2lnbmF0dXJl' },
        { type: 'text', text: 'Done.' },
      ],
    },
    { role: 'user', content: 'Thanks, again please.' },
  ],
};

describe('every model-visible block is inspected', () => {
  it('masks PII in a search_result, a document title and thinking in history; the audit never holds it', async () => {
    const before = h.upstream.requests.length;
    const answer = await send(h, ['engineering'], hiddenPii);
    expect(answer.status).toBe(200);
    expect(h.upstream.requests.length).toBe(before + 1);
    const sent = upstreamBody(h);
    expect(sent).not.toContain(EMAIL);
    expect(sent).not.toContain('4111');
    expect(sent).toContain('Contact [EMAIL_1]');
    expect(sent).toContain('Notes for [EMAIL_1]');
    expect(sent).toContain('The user is [EMAIL_1].');
    const audit = await auditText(h);
    expect(audit).not.toContain(EMAIL);
    expect(audit).not.toContain(CARD);
    type Decision = { input: { request: { findings: unknown } } };
    const decision = (await h.auditEvents()).filter((e) => e.kind === 'decision').at(-1) as Decision;
    expect(decision.input.request.findings).toEqual({ EMAIL: 3, CREDIT_CARD: 1 });
  });

  it('denies a blocked keyword inside a search_result and a private key inside thinking', async () => {
    const before = h.upstream.requests.length;
    const codename = 'status of Project Nightingale';
    const keyword = await send(h, ['engineering'], {
      messages: [
        {
          role: 'user',
          content: [{ type: 'search_result', source: 's', title: 't', content: [{ type: 'text', text: codename }] }],
        },
      ],
    });
    expect(keyword.status).toBe(403);
    expect(keyword.body.error?.message).toMatch(/Project Nightingale/);
    const pem = [
      '-----BEGIN PRIVATE KEY-----',
      'MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+',
      '-----END PRIVATE KEY-----',
    ].join('\n');
    const key = await send(h, ['engineering'], {
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: `I hold ${pem}`, signature: 'c2ln' },
            { type: 'text', text: 'ok' },
          ],
        },
        { role: 'user', content: 'go on' },
      ],
    });
    expect(key.status).toBe(403);
    expect(key.body.error?.message).toMatch(/PRIVATE_KEY/);
    expect(h.upstream.requests.length).toBe(before);
  });

  it('refuses an unknown block type with 400 naming path and type; with unknownBlocks scan it is masked', async () => {
    const hologram = { type: 'hologram', payload: { words: [`mail ${EMAIL}`] } };
    const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, hologram] }] };
    const before = h.upstream.requests.length;
    const refused = await send(h, ['engineering'], body);
    expect(refused.status).toBe(400);
    expect(refused.body.error?.type).toBe('invalid_request_error');
    expect(refused.body.error?.message).toMatch(/messages\[0\]\.content\[1\]: content block type "hologram" is not/);
    expect(h.upstream.requests.length).toBe(before);
    expect(await auditText(h)).not.toContain(EMAIL);

    const scanned = await send(scanning, ['engineering'], body);
    expect(scanned.status).toBe(200);
    expect(upstreamBody(scanning)).toContain('mail [EMAIL_1]');
    expect(upstreamBody(scanning)).not.toContain(EMAIL);
    expect(await auditText(scanning)).not.toContain(EMAIL);
  });
});

describe('MCP servers, server tools and media reach the policy', () => {
  const wiki = (tools: string[] | null) => ({
    type: 'url',
    name: 'wiki',
    url: 'https://mcp.wiki.example.com/sse',
    ...(tools ? { tool_configuration: { enabled: true, allowed_tools: tools } } : {}),
  });
  const hi = [{ role: 'user', content: 'hi' }];
  const params = (mcp: unknown[]) => ({ model: 'claude-haiku-4-5', mcp_servers: mcp, messages: hi });

  it('denies MCP servers a group is not granted, and tools of a granted server it may not use', async () => {
    const before = h.upstream.requests.length;
    const ci = await send(h, ['ci'], params([wiki(['search'])]));
    expect(ci.status).toBe(403);
    const refusedWiki = 'MCP server "wiki" (https://mcp.wiki.example.com/sse) is not allowed for your groups (ci)';
    expect(ci.body.error?.message).toContain(refusedWiki);
    const allTools = await send(h, ['engineering'], params([wiki(null)]));
    expect(allTools.status).toBe(403);
    expect(allTools.body.error?.message).toMatch(/all its tools are enabled/);
    expect(h.upstream.requests.length).toBe(before);
    const token = `mcp-${randomUUID()}`;
    const granted = await send(h, ['engineering'], params([{ ...wiki(['search']), authorization_token: token }]));
    expect(granted.status).toBe(200);
    // The upstream needs the MCP server's credential; the audit record never holds it.
    expect(JSON.stringify(h.upstream.requests.at(-1)?.body)).toContain(token);
    const audit = JSON.stringify(await h.auditEvents());
    expect(audit).not.toContain(token);
    expect(audit).toContain('"authorization_token":"[REDACTED]"');
  });

  it('judges a server tool by its type: a code_execution tool named bash is not the bash tool', async () => {
    const hi = [{ role: 'user', content: 'hi' }];
    const codeExecution = { type: 'code_execution_20250825', name: 'bash' };
    const disguised = await send(h, ['engineering'], { tools: [codeExecution], messages: hi });
    expect(disguised.status).toBe(403);
    expect(disguised.body.error?.message).toMatch(/tool "bash" of type "code_execution" is not allowed/);
    const bash = await send(h, ['engineering'], { tools: [{ type: 'bash_20250124', name: 'bash' }], messages: hi });
    expect(bash.status).toBe(200);
  });

  it('refuses images for a group whose media list does not allow them, even inside a tool_result', async () => {
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    const inResult = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: [image] }] };
    const call = { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'f', input: {} }] };
    const messages = [{ role: 'user', content: 'x' }, call, inResult];
    const ci = await send(h, ['ci'], { model: 'claude-haiku-4-5', messages });
    expect(ci.status).toBe(403);
    expect(ci.body.error?.message).toMatch(/carries 1 images/);
    const asked = [{ role: 'user', content: [image, { type: 'text', text: 'what is it?' }] }];
    const eng = await send(h, ['engineering'], { messages: asked });
    expect(eng.status).toBe(200);
  });
});
