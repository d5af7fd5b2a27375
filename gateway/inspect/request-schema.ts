/**
 * The one description of where a Messages API request carries text a model reads. Both the
 * policy's `request.text` (messages-request.ts) and the entity scan that masking rewrites
 * (request-entities.ts) walk the body through `walkRequest`, so the two cannot disagree.
 *
 * Every field of a known block is either listed below or walked as `strings` (every string in
 * it but the opaque keys): a field the API adds later is scanned, not skipped. A block type not
 * listed is refused (`inspect.unknownBlocks: refuse`) or scanned whole (`scan`).
 */
import { SluiceError } from '../errors.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What to do with a block type this file does not describe (config `inspect.unknownBlocks`). */
export type UnknownBlocks = 'refuse' | 'scan';

/**
 * How a field is read:
 * - text: a string the model reads;
 * - content: a string, or a list of content blocks;
 * - blocks: a list of content blocks;
 * - json: free JSON the model reads whole (tool inputs, input schemas): every string value and every key;
 * - strings: every string at any depth except under OPAQUE_KEYS; a nested object with a known block type is a block;
 * - source: a document or image source (text and content sources are read; base64, url and file ones are media);
 * - opaque: not text a model reads (signatures, ids, encrypted payloads): never scanned, never masked.
 */
type Rule = 'text' | 'content' | 'blocks' | 'json' | 'strings' | 'source' | 'opaque';

/**
 * Fields known not to be model-visible text, in any block or nested result: signatures and
 * encrypted content are verified or decrypted by the API (changing them breaks the request),
 * ids and media types are identifiers, cache_control is a cache hint. Keys starting with
 * `encrypted_` are opaque too (encrypted_content, encrypted_index, encrypted_stdout, …).
 */
export const OPAQUE_KEYS: ReadonlySet<string> = new Set([
  'type',
  'id',
  'tool_use_id',
  'signature',
  'cache_control',
  'media_type',
  'file_id',
  'is_error',
]);
const isOpaqueKey = (k: string): boolean => OPAQUE_KEYS.has(k) || k.startsWith('encrypted_');

const TOOL_CALL: Readonly<Record<string, Rule>> = { name: 'text', input: 'json' };
const TOOL_RESULT: Readonly<Record<string, Rule>> = { content: 'content' };
const SERVER_RESULT: Readonly<Record<string, Rule>> = { content: 'strings' };

/** The Messages API block types and how each field is read; fields not named here are `strings` (or opaque). */
export const BLOCK_FIELDS: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  text: { text: 'text', citations: 'strings' },
  image: { source: 'source' },
  document: { title: 'text', context: 'text', source: 'source', citations: 'opaque' /* {enabled: bool} */ },
  search_result: { source: 'text', title: 'text', content: 'blocks', citations: 'opaque' /* {enabled: bool} */ },
  tool_use: TOOL_CALL,
  server_tool_use: TOOL_CALL,
  mcp_tool_use: { ...TOOL_CALL, server_name: 'text' },
  tool_result: TOOL_RESULT,
  mcp_tool_result: TOOL_RESULT,
  // Thinking is signed; Sluice still scans and masks it (privacy first): a changed block may be refused upstream.
  thinking: { thinking: 'text', signature: 'opaque' },
  redacted_thinking: { data: 'opaque' /* encrypted by the API */ },
  web_search_tool_result: SERVER_RESULT,
  web_fetch_tool_result: SERVER_RESULT,
  code_execution_tool_result: SERVER_RESULT,
  bash_code_execution_tool_result: SERVER_RESULT,
  text_editor_code_execution_tool_result: SERVER_RESULT,
  container_upload: { file_id: 'opaque' },
};

/** Fields of a tool definition: the model reads its name, description and input schema. */
const TOOL_FIELDS: Readonly<Record<string, Rule>> = { name: 'text', description: 'text', input_schema: 'json' };

/** A string a model reads, where it lives; `isKey`: the string is the object key `key` itself. */
export interface VisibleString {
  /** JSON path, e.g. `messages[0].content[1].text` (key segments may repeat raw keys: redact before logging). */
  readonly path: string;
  readonly holder: Obj | unknown[];
  readonly key: string | number;
  readonly value: string;
  readonly isKey: boolean;
}

/** Images and non-text documents, which no text rule can inspect: counts and decoded base64 bytes. */
export interface MediaCounts {
  images: number;
  documents: number;
  bytes: number;
}

/** Everything a model reads in a request, in body order, and the media it carries. */
export interface RequestWalk {
  readonly strings: readonly VisibleString[];
  readonly media: MediaCounts;
}

/** Blocks nest a few levels at most (tool_result → blocks → text); deeper is hostile input. */
export const MAX_CONTENT_DEPTH = 32;
/** JSON levels inside one block or tool definition (the body parser allows 64 in all). */
const MAX_JSON_DEPTH = 64;

const seg = (k: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);
const bad = (path: string, what: string): SluiceError => new SluiceError('SLUICE_ERR_BAD_REQUEST', `${path}: ${what}`);

class Walk {
  readonly strings: VisibleString[] = [];
  readonly media: MediaCounts = { images: 0, documents: 0, bytes: 0 };
  constructor(private readonly unknownBlocks: UnknownBlocks) {}

  /** `depth`: how many blocks enclose the field (a tool_result in a tool_result is 2). */
  field(holder: Obj, k: string, rule: Rule, path: string, depth: number): void {
    const value = holder[k];
    if (value === undefined || value === null || rule === 'opaque') return;
    switch (rule) {
      case 'text':
        if (typeof value !== 'string') throw bad(path, 'expected a string');
        return this.visit(holder, k, value, path);
      case 'content':
        if (typeof value === 'string') return this.visit(holder, k, value, path);
        return this.blocks(value, path, depth);
      case 'blocks':
        return this.blocks(value, path, depth);
      case 'json':
        return this.json(holder, k, path, depth);
      case 'strings':
        return this.anyStrings(holder, k, path, depth);
      case 'source':
        return this.source(value, path, depth, '');
    }
  }

  visit(holder: Obj | unknown[], key: string | number, value: string, path: string, isKey = false): void {
    if (value.length > 0) this.strings.push({ path, holder, key, value, isKey });
  }

  blocks(value: unknown, path: string, depth: number): void {
    if (!Array.isArray(value)) throw bad(path, 'expected a string or a list of content blocks');
    value.forEach((block, i) => {
      if (!isObj(block) || typeof block.type !== 'string') {
        throw bad(`${path}[${i}]`, 'expected a content block with a type');
      }
      this.block(block, `${path}[${i}]`, depth + 1);
    });
  }

  block(block: Obj, path: string, depth: number): void {
    if (depth > MAX_CONTENT_DEPTH) throw bad(path, `content is nested deeper than ${MAX_CONTENT_DEPTH} levels`);
    const type = block.type as string;
    if (type === 'image') this.media.images++;
    const fields = Object.hasOwn(BLOCK_FIELDS, type) ? BLOCK_FIELDS[type] : undefined;
    if (!fields) {
      if (this.unknownBlocks === 'refuse') {
        const shown = JSON.stringify(type.slice(0, 64));
        throw bad(path, `content block type ${shown} is not known to Sluice (config inspect.unknownBlocks: refuse)`);
      }
      for (const k of Object.keys(block)) if (k !== 'type') this.json(block, k, `${path}${seg(k)}`, depth);
      return;
    }
    for (const k of Object.keys(block)) {
      const rule = Object.hasOwn(fields, k) ? fields[k]! : isOpaqueKey(k) ? 'opaque' : 'strings';
      if (rule === 'source' && block[k] !== undefined) this.source(block[k], `${path}${seg(k)}`, depth, type);
      else this.field(block, k, rule, `${path}${seg(k)}`, depth);
    }
  }

  /** A document's or image's source: text is read; base64, url and file sources are media nobody here can read. */
  source(source: unknown, path: string, depth: number, blockType: string): void {
    if (!isObj(source)) throw bad(path, 'expected a source object');
    if (source.type === 'text') return this.field(source, 'data', 'text', `${path}.data`, depth);
    if (source.type === 'content') return this.field(source, 'content', 'content', `${path}.content`, depth);
    if (blockType === 'document') this.media.documents++; // images were counted by their block
    if (source.type === 'base64' && typeof source.data === 'string') {
      this.media.bytes += Buffer.byteLength(source.data, 'base64');
    }
  }

  /** Free JSON: every string value and every key, at any depth. */
  json(holder: Obj | unknown[], k: string | number, path: string, depth: number): void {
    if (depth > MAX_JSON_DEPTH) throw bad(path, `JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
    const value = (holder as Record<string | number, unknown>)[k];
    if (typeof value === 'string') return this.visit(holder, k, value, path);
    if (Array.isArray(value)) return value.forEach((_, i) => this.json(value, i, `${path}[${i}]`, depth + 1));
    if (!isObj(value)) return;
    for (const name of Object.keys(value)) {
      this.visit(value, name, name, `${path}${seg(name)}`, true);
      this.json(value, name, `${path}${seg(name)}`, depth + 1);
    }
  }

  /** Every string but those under opaque keys; nested known blocks (a fetched document) are walked as blocks. */
  anyStrings(holder: Obj | unknown[], k: string | number, path: string, depth: number): void {
    if (depth > MAX_JSON_DEPTH) throw bad(path, `JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
    const value = (holder as Record<string | number, unknown>)[k];
    if (typeof value === 'string') return this.visit(holder, k, value, path);
    if (Array.isArray(value)) return value.forEach((_, i) => this.anyStrings(value, i, `${path}[${i}]`, depth + 1));
    if (!isObj(value)) return;
    if (typeof value.type === 'string' && Object.hasOwn(BLOCK_FIELDS, value.type)) {
      return this.block(value, path, depth + 1);
    }
    for (const name of Object.keys(value)) {
      if (!isOpaqueKey(name)) this.anyStrings(value, name, `${path}${seg(name)}`, depth + 1);
    }
  }
}

/**
 * Walks a Messages (or count_tokens) body: system, every message's content, the structured
 * output schema and the tool definitions. Throws SluiceError 400 on a block type it does not know (mode `refuse`), on a
 * known field of the wrong shape, and on nesting deeper than MAX_CONTENT_DEPTH.
 */
export function walkRequest(body: unknown, unknownBlocks: UnknownBlocks): RequestWalk {
  const walk = new Walk(unknownBlocks);
  if (!isObj(body)) return walk;
  walk.field(body, 'system', 'content', 'system', 0);
  if (Array.isArray(body.messages)) {
    body.messages.forEach((m, i) => {
      if (isObj(m)) walk.field(m, 'content', 'content', `messages[${i}].content`, 0);
    });
  }
  // Structured outputs: the JSON schema of the answer is shown to the model (descriptions, enums).
  for (const k of ['output_format', 'output_config']) walk.json(body, k, k, 0);
  if (Array.isArray(body.tools)) {
    body.tools.forEach((tool, i) => {
      if (!isObj(tool)) return;
      for (const k of Object.keys(tool)) {
        const rule = Object.hasOwn(TOOL_FIELDS, k) ? TOOL_FIELDS[k]! : isOpaqueKey(k) ? 'opaque' : 'strings';
        walk.field(tool, k, rule, `tools[${i}]${seg(k)}`, 0);
      }
    });
  }
  return walk;
}
