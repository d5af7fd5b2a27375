import { describe, expect, it } from 'vitest';
import { createdObjects } from '../../../gateway/relay/created-objects.ts';

describe('createdObjects', () => {
  it('finds the files code execution wrote and the container it ran in', () => {
    const message = {
      type: 'message',
      container: { id: 'container_011C', expires_at: '2026-12-04T10:00:00Z' },
      content: [
        { type: 'server_tool_use', id: 'srv_1', name: 'bash_code_execution', input: { command: 'echo' } },
        {
          type: 'bash_code_execution_tool_result',
          tool_use_id: 'srv_1',
          content: {
            type: 'bash_code_execution_result',
            stdout: '',
            stderr: '',
            return_code: 0,
            content: [{ type: 'bash_code_execution_output', file_id: 'file_011Cout' }],
          },
        },
        {
          type: 'code_execution_tool_result',
          tool_use_id: 'srv_2',
          content: { type: 'code_execution_result', content: [{ type: 'code_execution_output', file_id: 'file_old' }] },
        },
        { type: 'text', text: 'file_id file_not_created' },
      ],
    };
    expect(createdObjects(message)).toEqual([
      { type: 'container', id: 'container_011C' },
      { type: 'file', id: 'file_011Cout' },
      { type: 'file', id: 'file_old' },
    ]);
  });

  it('finds nothing in a plain answer or an error', () => {
    expect(createdObjects({ type: 'message', container: null, content: [{ type: 'text', text: 'hi' }] })).toEqual([]);
    expect(createdObjects({ type: 'error' })).toEqual([]);
    expect(createdObjects(undefined)).toEqual([]);
  });
});
