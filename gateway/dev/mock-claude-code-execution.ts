import { randomBytes } from 'node:crypto';
import type { MockFileStore } from './mock-claude-files.ts';
import { mockId, type MockBlock, type MockMessage } from './mock-claude-responses.ts';
import type { MockSkillStore } from './mock-claude-skills.ts';

/**
 * Code execution in mock-claude's answers: when a Messages request offers the code execution server tool
 * (`code_execution_YYYYMMDD`) or loads skills into its container (`container.skills`), the echo first "runs" one
 * command that writes the echo text to a file, as Claude does when a skill makes a document. The answer carries the
 * server tool call, its result listing the created file (`file_id`), and the `container` it ran in; the file is then
 * downloadable through the Files API, like every file code execution creates.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The file the mock's code execution creates. */
export const CODE_OUTPUT_FILENAME = 'mock-claude-output.txt';
/** The API keeps a container for 30 days. */
const CONTAINER_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
/** The API loads at most 8 skills into one container. */
const MAX_SKILLS = 8;

/** Which code execution a request asks for: the bash tool (2025-08-25 on, and skills), python (2025-05-22), none. */
function codeExecutionKind(body: Obj): 'bash' | 'python' | undefined {
  if (isObj(body.tool_choice) && body.tool_choice.type === 'none') return undefined;
  const tool = Array.isArray(body.tools)
    ? body.tools.find((t) => isObj(t) && typeof t.type === 'string' && t.type.startsWith('code_execution_'))
    : undefined;
  if (isObj(tool)) return tool.type === 'code_execution_20250522' ? 'python' : 'bash';
  return requestedSkills(body).length > 0 ? 'bash' : undefined;
}

function requestedSkills(body: Obj): unknown[] {
  return isObj(body.container) && Array.isArray(body.container.skills) ? body.container.skills : [];
}

/** The API's complaint about a request's `container`, or undefined when it is valid (every skill exists). */
export function containerProblem(body: Obj, skills: MockSkillStore): string | undefined {
  const container = body.container;
  if (container === undefined || container === null || typeof container === 'string') return undefined;
  if (!isObj(container)) return 'container: Input should be a valid string or object';
  if (container.skills === undefined || container.skills === null) return undefined;
  if (!Array.isArray(container.skills)) return 'container.skills: Input should be a valid list';
  if (container.skills.length > MAX_SKILLS) return `container.skills: List should have at most ${MAX_SKILLS} items`;
  for (const [i, skill] of container.skills.entries()) {
    if (!isObj(skill) || typeof skill.skill_id !== 'string') return `container.skills.${i}.skill_id: Field required`;
    if (skill.type !== 'anthropic' && skill.type !== 'custom')
      return `container.skills.${i}.type: Input should be 'anthropic' or 'custom'`;
    const version = typeof skill.version === 'string' ? skill.version : 'latest';
    if (!skills.resolve(skill.skill_id, skill.type, version))
      return `container.skills.${i}: skill ${skill.skill_id} version ${version} not found`;
  }
  return undefined;
}

/** A container id in the API's style: `container_011C` and 20 base62 characters. */
function containerId(): string {
  return `container_011C${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 20)}`;
}

/**
 * `message` with the code execution the request asks for (see the file comment): the call and its result go just
 * before the answer's text, the created file is added to `files`. Unchanged when the request asks for none.
 */
export function withCodeExecution(message: MockMessage, body: Obj, files: MockFileStore): MockMessage {
  const kind = codeExecutionKind(body);
  if (!kind) return message;
  const text = message.content.find((b) => b.type === 'text');
  const output = `${text?.type === 'text' ? text.text : ''}\n`;
  const file = files.add(CODE_OUTPUT_FILENAME, 'text/plain', Buffer.from(output), { downloadable: true });
  const id = mockId('srvtoolu');
  const script = `cat > /tmp/outputs/${CODE_OUTPUT_FILENAME} << 'MOCK_EOF'\n${output}MOCK_EOF`;
  const blocks: MockBlock[] =
    kind === 'bash'
      ? [
          { type: 'server_tool_use', id, name: 'bash_code_execution', input: { command: script } },
          {
            type: 'bash_code_execution_tool_result',
            tool_use_id: id,
            content: {
              type: 'bash_code_execution_result',
              stdout: '',
              stderr: '',
              return_code: 0,
              content: [{ type: 'bash_code_execution_output', file_id: file.id }],
            },
          },
        ]
      : [
          { type: 'server_tool_use', id, name: 'code_execution', input: { code: pythonWriting(output) } },
          {
            type: 'code_execution_tool_result',
            tool_use_id: id,
            content: {
              type: 'code_execution_result',
              stdout: '',
              stderr: '',
              return_code: 0,
              content: [{ type: 'code_execution_output', file_id: file.id }],
            },
          },
        ];
  const at = Math.max(
    0,
    message.content.findIndex((b) => b.type === 'text'),
  );
  const content = [...message.content.slice(0, at), ...blocks, ...message.content.slice(at)];
  const requested = isObj(body.container) && typeof body.container.id === 'string' ? body.container.id : undefined;
  const reused = typeof body.container === 'string' ? body.container : requested;
  const skills = requestedSkills(body).filter(isObj);
  return {
    ...message,
    content,
    container: {
      id: reused ?? containerId(),
      expires_at: new Date(Date.now() + CONTAINER_LIFETIME_MS).toISOString(),
      skills:
        skills.length === 0
          ? null
          : skills.map((s) => ({
              type: s.type as 'anthropic' | 'custom',
              skill_id: String(s.skill_id),
              version: typeof s.version === 'string' ? s.version : 'latest',
            })),
    },
  };
}

function pythonWriting(output: string): string {
  return `with open('/tmp/outputs/${CODE_OUTPUT_FILENAME}', 'w') as f:\n    f.write(${JSON.stringify(output)})`;
}
