/**
 * The upstream objects an answer created for the caller: the files code execution wrote (listed
 * in a `*code_execution_tool_result` block's output) and the container it ran in. Read from the
 * final message, JSON or accumulated from a stream, so both record the same owner.
 */

/** One object an answer created. */
export interface CreatedObject {
  readonly type: 'file' | 'container';
  readonly id: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Files and the container `message` (an Anthropic Message) created; each once. */
export function createdObjects(message: unknown): CreatedObject[] {
  if (!isObj(message)) return [];
  const found = new Map<string, CreatedObject>();
  const add = (type: CreatedObject['type'], id: unknown): void => {
    if (typeof id === 'string' && id.length > 0) found.set(`${type}\u0000${id}`, { type, id });
  };
  if (isObj(message.container)) add('container', message.container.id);
  for (const block of Array.isArray(message.content) ? message.content : []) {
    if (!isObj(block) || typeof block.type !== 'string' || !block.type.endsWith('code_execution_tool_result')) continue;
    const result = block.content;
    const outputs = isObj(result) && Array.isArray(result.content) ? result.content : [];
    for (const output of outputs) if (isObj(output)) add('file', output.file_id);
  }
  return [...found.values()];
}
