/**
 * Message Batch objects on their way to the caller: `results_url` is rebuilt to point at Sluice
 * (the origin and connection prefix the caller used), never left as the upstream's. The SDKs
 * fetch that URL with the caller's own credentials: an upstream URL there would send the
 * caller's token to the upstream and bypass the gateway.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where the caller reached Sluice: `https://sluice.example.com` and `` or `/c/secondary`. */
export interface CallerBase {
  /** Scheme and host as the caller used them (Fastify's, which honours listen.trustProxy); undefined if unusable. */
  readonly origin: string | undefined;
  readonly prefix: string;
}

/** A host (with port) as a URL may carry it; anything else (a path, a user, spaces) is not used. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** A batch id as the API issues them; anything else gets no URL. */
const BATCH_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The caller's base from the request's protocol, host and connection parameter. */
export function callerBase(protocol: string, host: string, connection: string | undefined): CallerBase {
  const origin = (protocol === 'http' || protocol === 'https') && HOST.test(host) ? `${protocol}://${host}` : undefined;
  return { origin, prefix: connection === undefined ? '' : `/c/${encodeURIComponent(connection)}` };
}

/** The results URL of batch `id` on Sluice, or null when none can be built safely. */
export function resultsUrl(base: CallerBase, id: unknown): string | null {
  if (base.origin === undefined || typeof id !== 'string' || !BATCH_ID.test(id)) return null;
  return `${base.origin}${base.prefix}/v1/messages/batches/${id}/results`;
}

/** One object with a `results_url`: rewritten when it has one (a URL on Sluice, or null). */
function rewriteOne(batch: unknown, base: CallerBase): unknown {
  if (!isObj(batch) || !('results_url' in batch)) return batch;
  if (batch.results_url === null) return batch;
  return { ...batch, results_url: resultsUrl(base, batch.id) };
}

/**
 * A batch, or a page of batches (`data`), with every `results_url` pointing at Sluice (null if
 * no safe URL can be built). Returns `body` itself when there is nothing to rewrite.
 */
export function rewriteBatchObjects(body: unknown, base: CallerBase): unknown {
  if (!isObj(body)) return body;
  if (Array.isArray(body.data)) return { ...body, data: body.data.map((b) => rewriteOne(b, base)) };
  return rewriteOne(body, base);
}
