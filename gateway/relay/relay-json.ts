import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { SluiceError } from '../errors.ts';
import { maskResponseBody } from '../mask/mask-response.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import { readCappedBody } from '../upstream/capped-body.ts';
import type { MaskPlan } from '../mask/mask-plan.ts';
import type { Relayed } from './relayed.ts';

/** What a relay needs to know about the call: its connection (for messages), its mask plan, where to mark progress. */
export interface RelayContext {
  readonly connection: string;
  readonly mask: MaskPlan;
  /** Marks an instant in the call's trace (`first_byte`, `upstream_body`). */
  readonly mark: (stage: string) => void;
  /** Largest upstream answer relayed (config `limits.responseBytes`). */
  readonly responseBytes: number;
  /** Rewrites a successful JSON answer before it is masked and sent (a listing filtered to the caller's objects). */
  readonly rewrite?: (body: unknown) => Promise<unknown>;
  /**
   * Called with what the caller is getting before the answer's last byte goes out (audit
   * durability `strict`: the call is recorded and its record written); when it throws, the
   * caller gets an error instead of the rest of the answer.
   */
  readonly beforeEnd?: (relayed: Relayed) => Promise<void>;
}

function parseJson(buffer: Buffer): unknown {
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isAnthropicError(body: unknown): body is { type: 'error'; error: { type: string; message: string } } {
  const b = body as { type?: unknown; error?: { type?: unknown; message?: unknown } } | undefined;
  return b?.type === 'error' && typeof b.error?.type === 'string' && typeof b.error?.message === 'string';
}

/**
 * Relays a non-streaming upstream response. Upstream errors in Anthropic's shape (429, 529, 5xx)
 * pass through with their status and retry headers so SDK retries behave as with the real API;
 * anything else the caller could not parse becomes a 502 in Anthropic's shape, and so does an
 * answer over `responseBytes` (read no further than that).
 */
export async function relayJson(
  upstream: Dispatcher.ResponseData,
  reply: FastifyReply,
  ctx: RelayContext,
): Promise<Relayed> {
  const buffer = await readCappedBody(upstream, ctx.responseBytes, ctx.connection);
  ctx.mark('upstream_body');
  const parsed = parseJson(buffer);
  const status = upstream.statusCode;
  if (parsed === undefined || (status >= 400 && !isAnthropicError(parsed))) {
    throw new SluiceError(
      'SLUICE_ERR_UPSTREAM_BAD_RESPONSE',
      `upstream "${ctx.connection}" answered ${status} with a body that is not a Claude API response`,
    );
  }
  const body = ctx.rewrite && status < 400 ? await ctx.rewrite(parsed) : parsed;
  // The audit keeps the masked body; the caller gets it too,
  // with the prompt's placeholders restored if the policy asks.
  const masking = ctx.mask.touchesResponse && !isAnthropicError(body) ? maskResponseBody(body, ctx.mask) : undefined;
  // Unchanged by masking (the usual case): the upstream's own bytes go out, no re-serialisation.
  const changed = body !== parsed || (masking !== undefined && masking.client !== body);
  const relayed: Relayed = {
    response: {
      status,
      stream: false,
      body: masking ? masking.masked : body,
      usage: (body as { usage?: unknown }).usage ?? null,
      ...(isAnthropicError(body) ? { error: body.error } : {}),
    },
    responseMayHoldEntities: masking?.entitiesLeft ?? true,
  };
  // Nothing has gone out yet: a failure here is answered as an error by the error handler.
  await ctx.beforeEnd?.(relayed);
  reply
    .code(status)
    .headers(callerResponseHeaders(upstream.headers))
    .header('content-type', 'application/json')
    // A Buffer, encoded once here: a string is measured and then encoded again by the reply.
    .send(changed ? Buffer.from(JSON.stringify(masking?.client ?? body)) : buffer);
  return relayed;
}
