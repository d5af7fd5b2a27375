/**
 * The Messages request parser under arbitrary input (fast-check): any JSON value, or a valid body
 * with one field replaced by anything, yields facts or a SluiceError 400, never another throw;
 * random valid bodies give back exactly the facts they carry (model, max_tokens, stream, tools,
 * skills); content nesting is bounded by MAX_CONTENT_DEPTH whatever the block types on the way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../gateway/errors.ts';
import type { RequestFacts } from '../../../gateway/inspect/facts.ts';
import { inspectMessagesRequest } from '../../../gateway/inspect/messages-request.ts';
import { BLOCK_FIELDS } from '../../../gateway/inspect/request-schema.ts';
import { TextMatcher } from '../../../gateway/policy/text-matcher.ts';
import { parseJsonBody } from '../../../gateway/inspect/json-body.ts';

type Op = 'messages.create' | 'messages.count_tokens';
const OPS: Op[] = ['messages.create', 'messages.count_tokens'];

function attempt(op: Op, body: unknown): { facts?: RequestFacts; err?: unknown } {
  try {
    return { facts: inspectMessagesRequest(op, body, []) };
  } catch (err) {
    return { err };
  }
}

function expectFactsOrBadRequest(r: { facts?: RequestFacts; err?: unknown }): void {
  if (r.facts) {
    expect(typeof r.facts.text).toBe('string');
    expect(Number.isFinite(r.facts.estimatedInputTokens)).toBe(true);
    return;
  }
  expect(r.err).toBeInstanceOf(SluiceError);
  expect((r.err as SluiceError).status).toBe(400);
}

/** Any text, Unicode included: zero-width and bidi characters, full-width forms, no-break spaces, astral characters. */
const unicodeUnit = fc.constantFrom(
  '\u200b',
  '\u00ad',
  '\u202e',
  '\ufeff',
  '\u00a0',
  '\uff20',
  '\uff14',
  '\u{1d7d2}',
  '\u0430',
  'a',
  ' ',
  '\n',
);
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: unicodeUnit, maxLength: 20 }),
);
const block = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({
    type: fc.constant('image'),
    source: fc.record({
      type: fc.constant('base64'),
      media_type: fc.constant('image/png'),
      data: fc.base64String({ maxLength: 16 }),
    }),
  }),
  fc.record({ type: fc.constant('tool_use'), id: text, name: text, input: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({
    type: fc.constant('tool_result'),
    tool_use_id: text,
    content: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 3 })),
  }),
  fc.record({
    type: fc.constant('document'),
    source: fc.record({ type: fc.constant('text'), media_type: fc.constant('text/plain'), data: text }),
  }),
);
const content = fc.oneof(text, fc.array(block, { maxLength: 4 }));
const tool = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 20 }),
    type: fc.option(fc.constantFrom('web_search_20250305', 'code_execution_20250825', 'custom'), { nil: undefined }),
    input_schema: fc.constant({ type: 'object' }),
  },
  { requiredKeys: ['name', 'input_schema'] },
);
const skill = fc.record(
  {
    type: fc.constantFrom('anthropic', 'custom'),
    skill_id: fc.string({ minLength: 1, maxLength: 20 }),
    version: fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { nil: undefined }),
  },
  { requiredKeys: ['type', 'skill_id'] },
);
const validBody = fc.record(
  {
    model: fc.string({ minLength: 1, maxLength: 40 }),
    max_tokens: fc.integer({ min: 1, max: 2 ** 31 }),
    messages: fc.array(fc.record({ role: fc.constantFrom('user' as const, 'assistant' as const), content }), {
      minLength: 1,
      maxLength: 4,
    }),
    system: content,
    stream: fc.boolean(),
    tools: fc.array(tool, { maxLength: 4 }),
    container: fc.oneof(
      fc.constant(null),
      fc.string({ maxLength: 10 }),
      fc.record({ skills: fc.array(skill, { maxLength: 4 }) }),
    ),
    metadata: fc.jsonValue({ maxDepth: 3 }),
  },
  { requiredKeys: ['model', 'max_tokens', 'messages'] },
);

describe('inspectMessagesRequest (properties)', () => {
  it('any JSON value: facts or a SluiceError 400, for both operations', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), fc.jsonValue({ maxDepth: 6 }), (op, value) =>
        expectFactsOrBadRequest(attempt(op, value)),
      ),
      { numRuns: 1000 },
    );
  });

  it('a valid body with any one field replaced by anything: facts or a SluiceError 400', () => {
    const field = fc.constantFrom(
      'model',
      'max_tokens',
      'messages',
      'system',
      'stream',
      'tools',
      'container',
      '__proto__',
      'constructor',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...OPS),
        validBody,
        field,
        fc.anything({ maxDepth: 4, withNullPrototype: true, withBigInt: true, withDate: true, withMap: true }),
        (op, body, key, value) => {
          const mutated: Record<string, unknown> = { ...body };
          Object.defineProperty(mutated, key, { value, enumerable: true, configurable: true, writable: true });
          expectFactsOrBadRequest(attempt(op, mutated));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes through the whole body pipeline (parse, then inspect): facts or a SluiceError 400', () => {
    const nearJson = validBody
      .chain((b) => fc.tuple(fc.constant(JSON.stringify(b)), fc.nat(), fc.string({ unit: 'binary', maxLength: 6 })))
      .map(([s, at, junk]) => {
        const i = at % (s.length + 1);
        return Buffer.from(s.slice(0, i) + junk + s.slice(i + junk.length));
      });
    fc.assert(
      fc.property(
        fc.constantFrom(...OPS),
        fc.oneof(
          nearJson,
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        ),
        (op, raw) => {
          let r: { facts?: RequestFacts; err?: unknown };
          try {
            r = attempt(op, parseJsonBody(raw).value);
          } catch (err) {
            r = { err };
          }
          expectFactsOrBadRequest(r);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('random valid bodies give back the facts they carry', () => {
    fc.assert(
      fc.property(validBody, (body) => {
        // Through the bytes, as the gateway sees it.
        const facts = inspectMessagesRequest(
          'messages.create',
          parseJsonBody(Buffer.from(JSON.stringify(body))).value,
          ['b1'],
        );
        expect(facts.operation).toBe('messages.create');
        expect(facts.model).toBe(body.model);
        expect(facts.maxTokens).toBe(body.max_tokens);
        expect(facts.stream).toBe(body.stream === true);
        expect(facts.betas).toEqual(['b1']);
        // A server tool is judged by its type without the date, a custom tool by its name.
        const family = (t: { name: string; type?: string }): string =>
          t.type && t.type !== 'custom' ? t.type.replace(/_\d{8}$/, '') : t.name;
        const tools = (body.tools ?? []).map((t) => ({ name: t.name, type: t.type ?? 'custom', family: family(t) }));
        expect(facts.tools).toEqual(tools);
        const skills = body.container && typeof body.container === 'object' ? body.container.skills : [];
        expect(facts.skills).toEqual(
          skills.map((s) => ({
            type: s.type,
            skill_id: s.skill_id,
            version: s.version === undefined ? undefined : String(s.version),
          })),
        );
        // Every text the prompt carries is in the policy's text.
        const texts = [body.system, ...body.messages.map((m) => m.content)].flatMap((c) =>
          c === undefined
            ? []
            : typeof c === 'string'
              ? [c]
              : c.flatMap((b) =>
                  b.type === 'text'
                    ? [b.text]
                    : b.type === 'document'
                      ? [b.source.data]
                      : b.type === 'tool_result'
                        ? typeof b.content === 'string'
                          ? [b.content]
                          : b.content.map((x) => x.text)
                        : [],
                ),
        );
        for (const t of texts) expect(facts.text).toContain(t);
        // count_tokens reads the same prompt, without max_tokens.
        const { max_tokens: _m, stream: _s, ...countBody } = body;
        const counted = inspectMessagesRequest('messages.count_tokens', countBody, []);
        expect(counted.text).toBe(facts.text);
        expect(counted.maxTokens).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  // Any block type the schema does not describe, anywhere a block may be, with any fields.
  const unknownType = fc.string({ minLength: 1, maxLength: 30 }).filter((t) => !Object.hasOwn(BLOCK_FIELDS, t));
  const unknownBlock = fc.record({
    type: unknownType,
    payload: fc.jsonValue({ maxDepth: 3 }),
    note: fc.string({ minLength: 1, maxLength: 20 }),
  });
  const user = (content: unknown) => ({ role: 'user', content });
  const placed = fc.constantFrom<(b: unknown) => Record<string, unknown>>(
    (b) => ({ messages: [{ role: 'user', content: [b] }] }),
    (b) => ({ messages: [{ role: 'user', content: 'hi' }], system: [{ type: 'text', text: 's' }, b] }),
    (b) => ({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [b] }] }] }),
    (b) => ({ messages: [user([{ type: 'search_result', source: 's', title: 't', content: [b] }])] }),
    (b) => ({ messages: [{ role: 'assistant', content: [{ type: 'text', text: 'a' }, b] }, user('k')] }),
  );

  it('an unknown block type anywhere is refused with its path and type; with scan its strings reach the text', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), unknownBlock, placed, (op, block, place) => {
        const body = { model: 'm', max_tokens: 1, ...place(block) };
        const refused = attempt(op, body);
        expect(refused.err).toBeInstanceOf(SluiceError);
        expect((refused.err as SluiceError).status).toBe(400);
        const named = `content block type ${JSON.stringify(block.type)} is not known`;
        expect((refused.err as Error).message).toContain(named);
        expect((refused.err as Error).message).toMatch(/^(messages|system)\[\d\]/);
        const scanned = inspectMessagesRequest(op, body, [], 'scan');
        expect(scanned.text).toContain(block.note);
      }),
      { numRuns: 500 },
    );
  });

  it('content nesting is bounded (MAX_CONTENT_DEPTH 32) whatever blocks lead there', () => {
    const textBlock = (text: string) => ({ type: 'text', text });
    // Each wrap is one block level; a non-block in a block list or a non-string text is a 400 of its own.
    const wrap = fc.constantFrom<(inner: unknown) => unknown>(
      (c) => [{ type: 'tool_result', tool_use_id: 't', content: c }],
      (c) => [{ type: 'mcp_tool_result', tool_use_id: 't', content: c }],
      (c) => [{ type: 'document', source: { type: 'content', content: c } }],
      (c) => [{ type: 'search_result', source: 's', title: 't', content: typeof c === 'string' ? [textBlock(c)] : c }],
    );
    fc.assert(
      fc.property(fc.array(wrap, { minLength: 0, maxLength: 120 }), (wraps) => {
        const deep = wraps.reduce<unknown>((inner, w) => w(inner), 'leaf-text');
        const r = attempt('messages.create', {
          model: 'm',
          max_tokens: 1,
          messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: deep }] }],
        });
        if (wraps.length <= 28) expect(r.facts?.text).toContain('leaf-text');
        else if (wraps.length > 33) expect((r.err as Error).message).toMatch(/nested deeper than 32/);
        expectFactsOrBadRequest(r);
      }),
      { numRuns: 500 },
    );
  });

  it(
    'a keyword split across two text blocks anywhere, spelled to hide, ' +
      'is found in the prompt text the policy reads',
    () => {
      const keyword = 'project nightingale';
      const matcher = TextMatcher.fromRules({ keywords: [keyword] });
      const hide = fc.constantFrom<(c: string) => string>(
        (c) => c,
        (c) => c.toUpperCase(),
        (c) => `${c}\u200b`,
        (c) => `\u00ad${c}`,
        (c) => (c === ' ' ? '\u00a0' : c),
        (c) => (c === ' ' ? '  ' : c),
        (c) => ({ o: '\u043e', a: '\u0430', e: '\u0435', p: '\u0440' })[c] ?? c,
        (c) => (c >= 'a' && c <= 'z' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c),
      );
      fc.assert(
        fc.property(
          fc.nat({ max: keyword.length }),
          fc.array(hide, { minLength: keyword.length, maxLength: keyword.length }),
          text,
          (at, ways, around) => {
            const spelled = [...keyword].map((c, i) => ways[i]!(c));
            const body = {
              model: 'm',
              max_tokens: 1,
              messages: [
                {
                  role: 'user',
                  content: [
                    { type: 'text', text: `${around} ${spelled.slice(0, at).join('')}` },
                    { type: 'text', text: `${spelled.slice(at).join('')} ${around}` },
                  ],
                },
              ],
            };
            const facts = inspectMessagesRequest('messages.create', body, []);
            expect(matcher.match(facts.text).keywords).toEqual([keyword]);
          },
        ),
        { numRuns: 1000 },
      );
    },
  );
});
