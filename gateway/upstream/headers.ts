import type { IncomingHttpHeaders } from 'node:http';

/**
 * Header allow-lists in both directions. An allow-list, not a deny-list: the caller's
 * Authorization / x-api-key, cookies, Host, X-Forwarded-* and hop-by-hop headers can never
 * reach the upstream, whatever new header a client invents.
 */
const REQUEST_HEADERS = new Set(['anthropic-version', 'anthropic-beta', 'content-type', 'accept', 'user-agent']);
const REQUEST_PREFIXES = ['x-stainless-']; // SDK runtime telemetry; harmless and useful upstream

const RESPONSE_HEADERS = new Set(['content-type', 'request-id', 'retry-after', 'x-should-retry']);
const RESPONSE_PREFIXES = ['anthropic-ratelimit-'];

function pick(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  names: Set<string>,
  prefixes: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (names.has(lower) || prefixes.some((p) => lower.startsWith(p))) {
      out[lower] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return out;
}

/** Headers sent upstream: the allow-listed caller headers plus the connection's credential. */
export function upstreamRequestHeaders(
  callerHeaders: IncomingHttpHeaders,
  credential: { header: 'x-api-key' | 'authorization'; value: string | undefined },
): Record<string, string> {
  const headers = pick(callerHeaders, REQUEST_HEADERS, REQUEST_PREFIXES);
  if (credential.value !== undefined) headers[credential.header] = credential.value;
  return headers;
}

/** Headers passed back to the caller from the upstream response. */
export function callerResponseHeaders(
  upstreamHeaders: Record<string, string | string[] | undefined>,
): Record<string, string> {
  return pick(upstreamHeaders, RESPONSE_HEADERS, RESPONSE_PREFIXES);
}
