/**
 * mock-claude's code execution: a request offering the code execution tool or loading skills gets the server tool
 * call, its result naming a created file, and the container; the file downloads through the Files API.
 */
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_OUTPUT_FILENAME } from '../../../gateway/dev/mock-claude-code-execution.ts';
import { ECHO_PREFIX, MockClaude } from '../../../gateway/dev/mock-claude.ts';
import { API_KEY, ask, recorded, sdkClient, tappedClient, wire } from './sdk-tap.ts';

let mock: MockClaude;
beforeAll(async () => (mock = await MockClaude.start({ apiKey: API_KEY, batchProcessingMs: 0 })));
afterAll(async () => mock.close());
const client = () => sdkClient(mock.url);

const CODE_TOOL = [{ type: 'code_execution_20250825' as const, name: 'code_execution' as const }];

/** The file id a bash code execution result lists, checking the blocks around it on the way. */
function createdFileId(message: Anthropic.Message): string {
  expect(message.content.map((b) => b.type)).toEqual(['server_tool_use', 'bash_code_execution_tool_result', 'text']);
  const [call, result] = message.content;
  expect(call).toMatchObject({
    type: 'server_tool_use',
    id: expect.stringMatching(/^srvtoolu_01/),
    name: 'bash_code_execution',
    input: { command: expect.stringContaining(`/tmp/outputs/${CODE_OUTPUT_FILENAME}`) },
  });
  expect(result).toEqual({
    type: 'bash_code_execution_tool_result',
    tool_use_id: call?.type === 'server_tool_use' ? call.id : '',
    content: {
      type: 'bash_code_execution_result',
      stdout: '',
      stderr: '',
      return_code: 0,
      content: [{ type: 'bash_code_execution_output', file_id: expect.stringMatching(/^file_011C[A-Za-z0-9]{20}$/) }],
    },
  });
  const content = (result as Anthropic.Messages.BashCodeExecutionToolResultBlock).content;
  return (content as Anthropic.Messages.BashCodeExecutionResultBlock).content[0]!.file_id;
}

async function expectDownload(fileId: string, text: string): Promise<void> {
  expect(await client().beta.files.retrieveMetadata(fileId)).toMatchObject({
    id: fileId,
    filename: CODE_OUTPUT_FILENAME,
    mime_type: 'text/plain',
    downloadable: true,
    size_bytes: Buffer.byteLength(`${text}\n`),
  });
  expect(await (await client().beta.files.download(fileId)).text()).toBe(`${text}\n`);
}

describe('mock-claude: code execution creates downloadable files', () => {
  it('JSON: the tool call, its result with the file, the container; the file downloads', async () => {
    const message = await client().messages.create(ask('make me a report', { tools: CODE_TOOL }));
    const fileId = createdFileId(message);
    expect(message.content[2]).toEqual({ type: 'text', text: `${ECHO_PREFIX}make me a report` });
    expect(message.container).toEqual({
      id: expect.stringMatching(/^container_011C[A-Za-z0-9]{20}$/),
      expires_at: expect.any(String),
      skills: null,
    });
    expect(Date.parse(message.container!.expires_at)).toBeGreaterThan(Date.now());
    await expectDownload(fileId, `${ECHO_PREFIX}make me a report`);
  });

  it('stream: the result comes whole in content_block_start, the container in message_delta; same file', async () => {
    const { client: c, raw } = tappedClient(mock.url);
    const final = await c.messages.stream(ask('stream a report', { tools: CODE_TOOL })).finalMessage();
    const recorder = recorded(await raw());
    expect(recorder.reconstruct()).toEqual(wire(final));
    const fileId = createdFileId(final);
    expect(final.container?.id).toMatch(/^container_011C/);
    const start = recorder.events.find(
      (e) =>
        (e.data as { content_block?: { type?: string } }).content_block?.type === 'bash_code_execution_tool_result',
    );
    const index = (start?.data as { index: number }).index;
    expect(recorder.events.filter((e) => (e.data as { index?: number }).index === index).map((e) => e.event)).toEqual([
      'content_block_start',
      'content_block_stop',
    ]);
    const delta = recorder.events.find((e) => e.event === 'message_delta')?.data as { delta: { container: unknown } };
    expect(delta.delta.container).toEqual(final.container);
    await expectDownload(fileId, `${ECHO_PREFIX}stream a report`);
  });

  it('container.skills (Anthropic and custom) run code execution without the tool, and are echoed', async () => {
    const md = '---\nname: deck-maker\ndescription: Makes decks\n---\n';
    const skill = await client().beta.skills.create({ files: [await toFile(Buffer.from(md), 'deck-maker/SKILL.md')] });
    const skills = [
      { type: 'anthropic' as const, skill_id: 'pptx', version: 'latest' },
      { type: 'custom' as const, skill_id: skill.id },
    ];
    const message = await client().beta.messages.create({
      ...ask('a deck please'),
      container: { skills },
      betas: ['code-execution-2025-08-25', 'skills-2025-10-02'],
    });
    const fileId = createdFileId(message as unknown as Anthropic.Message);
    expect(message.container?.skills).toEqual([skills[0], { ...skills[1], version: 'latest' }]);
    await expectDownload(fileId, `${ECHO_PREFIX}a deck please`);

    const reused = await client().messages.create(ask('again', { tools: CODE_TOOL, container: message.container!.id }));
    expect(reused.container?.id).toBe(message.container!.id);

    const unknown = await client()
      .beta.messages.create({ ...ask('x'), container: { skills: [{ type: 'custom', skill_id: 'skill_01nothere' }] } })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.BadRequestError);
    expect((unknown as Error).message).toContain('container.skills.0');
  });

  it('the 2025-05-22 tool answers with code_execution_tool_result; tool_choice none runs nothing', async () => {
    const tools = [{ type: 'code_execution_20250522', name: 'code_execution' }];
    const message = await client().beta.messages.create({ ...ask('old tool'), tools } as never);
    expect(message.content.map((b) => b.type)).toEqual(['server_tool_use', 'code_execution_tool_result', 'text']);
    expect(message.content[1]).toMatchObject({
      content: { type: 'code_execution_result', content: [{ type: 'code_execution_output' }] },
    });
    const none = await client().messages.create(
      ask('no tools now', { tools: CODE_TOOL, tool_choice: { type: 'none' } }),
    );
    expect(none.content.map((b) => b.type)).toEqual(['text']);
    expect('container' in none).toBe(false);
  });

  it('a batch request with code execution gets the same answer, and its file downloads', async () => {
    const batch = await client().messages.batches.create({
      requests: [{ custom_id: 'report', params: ask('batch report', { tools: CODE_TOOL }) }],
    });
    await mock.batchEnded(batch.id);
    const results: Anthropic.Messages.MessageBatchIndividualResponse[] = [];
    for await (const line of await client().messages.batches.results(batch.id)) results.push(line);
    expect(results[0]?.result.type).toBe('succeeded');
    const message = (results[0]?.result as Anthropic.Messages.MessageBatchSucceededResult).message;
    await expectDownload(createdFileId(message), `${ECHO_PREFIX}batch report`);
  });
});
