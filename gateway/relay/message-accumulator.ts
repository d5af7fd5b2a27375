/**
 * Rebuilds a Messages API `Message` from its stream events, the way the official SDK's
 * MessageStream does, for the audit record. Hand-written because the SDK's accumulator is not
 * exported and the SDK is only a dev dependency; this one also has to survive hostile input,
 * so every field is checked before use and unknown events are ignored.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Block types whose `input` arrives as input_json_delta fragments. */
const TOOL_INPUT_BLOCKS = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);
/** Fields a message_delta may not overwrite: they give the message its shape. */
const PROTECTED = new Set(['id', 'type', 'role', 'model', 'content', 'usage']);

/** Accumulates parsed SSE `data` objects (message_start … message_stop) into one Message. */
export class MessageAccumulator {
  private message: Obj | undefined;
  private content: Obj[] = [];
  /** input_json_delta text per content index, parsed into `input` at content_block_stop. */
  private readonly partialJson = new Map<number, string>();

  /** Applies one event's parsed data; anything malformed or out of order is ignored. */
  apply(data: unknown): void {
    if (!isObj(data)) return;
    switch (data.type) {
      case 'message_start':
        if (!isObj(data.message)) return;
        this.content = Array.isArray(data.message.content)
          ? data.message.content.filter(isObj).map((b) => ({ ...b }))
          : [];
        this.message = { ...data.message, usage: isObj(data.message.usage) ? { ...data.message.usage } : {} };
        this.partialJson.clear();
        return;
      case 'content_block_start': {
        const index = this.index(data.index, true);
        if (index !== undefined && isObj(data.content_block)) this.content[index] = { ...data.content_block };
        return;
      }
      case 'content_block_delta': {
        const index = this.index(data.index, false);
        if (index !== undefined && isObj(data.delta)) this.applyDelta(index, data.delta);
        return;
      }
      case 'content_block_stop': {
        const index = this.index(data.index, false);
        if (index !== undefined) this.finishToolInput(index);
        return;
      }
      case 'message_delta':
        if (!this.message) return;
        if (isObj(data.delta)) {
          const fields = Object.entries(data.delta).filter(([k]) => !PROTECTED.has(k));
          // Object.fromEntries + spread define own properties, so a "__proto__" key cannot reach the prototype.
          this.message = { ...this.message, ...Object.fromEntries(fields) };
        }
        if (isObj(data.usage)) {
          // Usage counters in message_delta are cumulative totals: overwrite, never add; null means "not reported".
          const present = Object.entries(data.usage).filter(([, v]) => v !== null && v !== undefined);
          this.message = { ...this.message, usage: { ...(this.message.usage as Obj), ...Object.fromEntries(present) } };
        }
        return;
      default:
        return;
    }
  }

  /** The Message so far (pending tool input parsed as far as possible), or undefined before message_start. */
  snapshot(): unknown {
    if (!this.message) return undefined;
    const content = this.content.map((block, i) => {
      const pending = this.partialJson.get(i);
      return pending === undefined ? { ...block } : { ...block, input: parseInput(pending, block.input) };
    });
    return { ...this.message, content };
  }

  /** A usable content index: an existing block, or (for a start) the next one; holes are never created. */
  private index(raw: unknown, starting: boolean): number | undefined {
    if (!this.message || typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0) return undefined;
    return raw < this.content.length || (starting && raw === this.content.length) ? raw : undefined;
  }

  private applyDelta(index: number, delta: Obj): void {
    const block = this.content[index]!;
    switch (delta.type) {
      case 'text_delta':
        if (block.type === 'text') block.text = str(block.text) + str(delta.text);
        return;
      case 'input_json_delta':
        if (typeof block.type === 'string' && TOOL_INPUT_BLOCKS.has(block.type)) {
          this.partialJson.set(index, (this.partialJson.get(index) ?? '') + str(delta.partial_json));
        }
        return;
      case 'thinking_delta':
        if (block.type === 'thinking') block.thinking = str(block.thinking) + str(delta.thinking);
        return;
      case 'signature_delta':
        if (block.type === 'thinking') block.signature = str(delta.signature);
        return;
      case 'citations_delta':
        if (block.type === 'text')
          block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation];
        return;
      default:
        return;
    }
  }

  private finishToolInput(index: number): void {
    const pending = this.partialJson.get(index);
    if (pending === undefined) return;
    this.partialJson.delete(index);
    const block = this.content[index]!;
    block.input = parseInput(pending, block.input);
  }
}

/**
 * The tool input from its JSON text: no fragments keeps the start value (the API starts with `{}`);
 * text that is not JSON (a stream cut mid-block) is kept verbatim so the record loses nothing.
 */
function parseInput(json: string, initial: unknown): unknown {
  if (json === '') return initial ?? {};
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}
