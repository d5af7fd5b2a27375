import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { relayBatchResults, type ResultsContext } from '../../../gateway/batches/batch-results.ts';
import type { BatchRequestRecord } from '../../../gateway/batches/batch-store.ts';
import { buildDetectorKit } from '../../../gateway/inspect/detector-kit.ts';
import { MaskLedger } from '../../../gateway/mask/mask-ledger.ts';
import { PlaceholderNumbering } from '../../../gateway/mask/placeholder-numbering.ts';

/** The caller's side: what was written, and whether the connection was cut. */
class Caller extends Writable {
  readonly chunks: Buffer[] = [];
  status = 0;
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function upstream(...chunks: string[]): Dispatcher.ResponseData {
  async function* body(): AsyncGenerator<Buffer> {
    for (const c of chunks) yield Buffer.from(c);
  }
  return { statusCode: 200, headers: {}, body: body() } as unknown as Dispatcher.ResponseData;
}

const hashKey = Buffer.alloc(32, 7);
const record = (customId: string, response: string[]): BatchRequestRecord => ({
  customId,
  decisionId: `dec-${customId}`,
  responseMask: { response, style: 'placeholder' },
  budgets: [],
  model: undefined,
});

function context(maxLineBytes = 10_000): ResultsContext {
  return {
    connection: 'anthropic',
    requests: new Map([
      ['masked', record('masked', ['EMAIL'])],
      ['open', record('open', [])],
    ]),
    kit: buildDetectorKit({}),
    hashKey,
    numbering: new PlaceholderNumbering(hashKey),
    ledger: new MaskLedger(),
    maxLineBytes,
    mark: () => undefined,
  };
}

const line = (customId: string, text: string): string =>
  `${JSON.stringify({
    custom_id: customId,
    result: { type: 'succeeded', message: { type: 'message', content: [{ type: 'text', text }] } },
  })}\n`;

describe('batch results relay', () => {
  it("masks each result by its own request's rules, and clears a custom_id the batch never had", async () => {
    const ctx = context();
    const res = new Caller();
    const open = line('open', 'mail me at jo@example.org');
    const all = line('masked', 'mail me at jo@example.org') + open + line('stranger', 'jo@example.org');
    // Cut mid-line and mid-character: lines are whole before they are judged.
    const relayed = await relayBatchResults(
      upstream(all.slice(0, 30), all.slice(30)),
      res as unknown as ServerResponse,
      ctx,
    );
    const lines = res.text.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('mail me at [EMAIL_1]');
    expect(`${lines[1]}\n`).toBe(open); // the upstream's own line, byte for byte
    expect(lines[2]).toContain('"text":"[EMAIL]"');
    expect(lines[0]).not.toContain('jo@example.org');
    expect(lines[2]).not.toContain('jo@example.org');
    expect(relayed.response.body).toEqual({ result_counts: { succeeded: 3 } });
    expect(ctx.ledger.entries()).toEqual([{ type: 'EMAIL', count: 1, path: 'response.results.message' }]);
    expect(relayed.error).toBeUndefined();
    expect(res.destroyed).toBe(false);
  });

  it("masks an errored result's error text by its request's rules too", async () => {
    const ctx = context();
    const res = new Caller();
    const errored = (customId: string): string =>
      `${JSON.stringify({
        custom_id: customId,
        result: {
          type: 'errored',
          error: { type: 'error', error: { type: 'invalid_request_error', message: 'bad address jo@example.org' } },
        },
      })}\n`;
    const open = errored('open');
    const relayed = await relayBatchResults(upstream(errored('masked') + open), res as unknown as ServerResponse, ctx);
    const lines = res.text.trimEnd().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({
      custom_id: 'masked',
      result: {
        type: 'errored',
        error: { type: 'error', error: { type: 'invalid_request_error', message: 'bad address [EMAIL_1]' } },
      },
    });
    expect(`${lines[1]}\n`).toBe(open);
    expect(relayed.response.body).toEqual({ result_counts: { errored: 2 } });
    expect(ctx.ledger.entries()).toEqual([{ type: 'EMAIL', count: 1, path: 'response.results.error' }]);
  });

  it('cuts the answer at a line that is not a result, and at one over the bound', async () => {
    const res = new Caller();
    const relayed = await relayBatchResults(
      upstream(line('open', 'fine'), 'not json\n', line('open', 'never sent')),
      res as unknown as ServerResponse,
      context(),
    );
    expect(res.text).toBe(line('open', 'fine'));
    expect(relayed.error?.code).toBe('SLUICE_ERR_UPSTREAM_BAD_RESPONSE');
    expect(res.destroyed).toBe(true);

    const long = new Caller();
    const cut = await relayBatchResults(
      upstream(line('open', 'x'.repeat(200))),
      long as unknown as ServerResponse,
      context(100),
    );
    expect(long.text).toBe('');
    expect(cut.error?.code).toBe('SLUICE_ERR_UPSTREAM_TOO_LARGE');
    expect(long.destroyed).toBe(true);
  });
});
