import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { SluiceError, errorBody } from '../errors.ts';
import { maskResponseBody } from '../mask/mask-response.ts';
import { callerResponseHeaders } from '../upstream/headers.ts';
import { readCappedBody } from '../upstream/capped-body.ts';
import type { Exchange } from '../pipeline/exchange.ts';

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
  ex: Exchange,
  responseBytes: number,
): Promise<void> {
  const buffer = await readCappedBody(upstream, responseBytes, ex.connection?.name ?? 'unknown');
  ex.mark('upstream_body');
  const body = parseJson(buffer);
  const status = upstream.statusCode;
  if (body === undefined || (status >= 400 && !isAnthropicError(body))) {
    throw new SluiceError('SLUICE_ERR_UPSTREAM_BAD_RESPONSE', `upstream "${ex.connection?.name}" answered ${status} with a body that is not a Claude API response`);
  }
  // The audit keeps the masked body; the caller gets it too, with the prompt's placeholders restored if the policy asks.
  const masking = ex.maskPlan?.touchesResponse && !isAnthropicError(body) ? maskResponseBody(body, ex.maskPlan) : undefined;
  if (masking) ex.responseMayHoldEntities = masking.entitiesLeft;
  ex.response = {
    status,
    stream: false,
    body: masking ? masking.masked : body,
    usage: (body as { usage?: unknown }).usage ?? null,
    ...(isAnthropicError(body) ? { error: body.error } : {}),
  };
  // Unchanged by masking (the usual case): the upstream's own bytes go out, no re-serialisation.
  const changed = masking !== undefined && masking.client !== body;
  reply.code(status).headers(callerResponseHeaders(upstream.headers)).header('content-type', 'application/json').send(changed ? JSON.stringify(masking.client) : buffer);
}

/** The error reply for a refused call (used by the route's error handler). */
export function sendError(reply: FastifyReply, err: SluiceError): void {
  reply.code(err.status).header('content-type', 'application/json').send(errorBody(err.type, err.message));
}
