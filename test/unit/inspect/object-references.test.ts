import { describe, expect, it } from 'vitest';
import { objectReferences } from '../../../gateway/inspect/object-references.ts';

describe('objectReferences', () => {
  it('finds files in document and image sources, container uploads, and deep inside tool results', () => {
    const body = {
      model: 'claude-sonnet-4-6',
      system: [{ type: 'text', text: 'x' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'file', file_id: 'file_doc' } },
            { type: 'image', source: { type: 'file', file_id: 'file_img' } },
            { type: 'container_upload', file_id: 'file_up' },
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: [{ type: 'document', source: { type: 'file', file_id: 'file_deep' } }],
            },
            { type: 'text', text: 'file_id: file_not_a_reference' },
          ],
        },
      ],
    };
    expect(objectReferences(body)).toEqual([
      { type: 'file', id: 'file_doc' },
      { type: 'file', id: 'file_img' },
      { type: 'file', id: 'file_up' },
      { type: 'file', id: 'file_deep' },
    ]);
  });

  it('finds the container by id or object, and custom skills but not Anthropic ones', () => {
    expect(objectReferences({ messages: [], container: 'container_1' })).toEqual([
      { type: 'container', id: 'container_1' },
    ]);
    const body = {
      messages: [],
      container: {
        id: 'container_2',
        skills: [
          { type: 'anthropic', skill_id: 'xlsx', version: 'latest' },
          { type: 'custom', skill_id: 'skill_01abc', version: 'latest' },
        ],
      },
    };
    expect(objectReferences(body)).toEqual([
      { type: 'container', id: 'container_2' },
      { type: 'skill', id: 'skill_01abc' },
    ]);
  });

  it("checks a custom skill's id under any type: only Anthropic's own short ids are nobody's", () => {
    const body = {
      messages: [],
      container: {
        skills: [
          { type: 'anthropic', skill_id: 'skill_01disguised', version: 'latest' },
          { type: 'plugin', skill_id: 'someones-plugin' },
          { type: 'anthropic', skill_id: 'pdf' },
        ],
      },
    };
    expect(objectReferences(body)).toEqual([
      { type: 'skill', id: 'skill_01disguised' },
      { type: 'skill', id: 'someones-plugin' },
    ]);
  });

  it('names each object once and ignores bodies without references', () => {
    const doc = { type: 'document', source: { type: 'file', file_id: 'file_a' } };
    expect(objectReferences({ messages: [{ role: 'user', content: [doc, doc] }] })).toEqual([
      { type: 'file', id: 'file_a' },
    ]);
    expect(objectReferences({ messages: [{ role: 'user', content: 'hi' }] })).toEqual([]);
    expect(objectReferences(null)).toEqual([]);
  });
});
