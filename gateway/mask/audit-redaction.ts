/**
 * The last line before the audit log: whatever the policy chose to mask, no detected entity value
 * is written to the audit record. Entities the policy let through (the upstream saw them) are
 * replaced by their type, `[EMAIL]`, in the stored request and response; placeholders and other
 * masks already in place are left as they are. Runs after the answer is sent, off the latency path.
 */
import type { ExchangeRecordBody } from '../audit/events.ts';
import type { DetectorKit } from '../inspect/detector-kit.ts';
import { scanRequest } from '../inspect/request-entities.ts';
import { redactFindings } from '../inspect/redact-findings.ts';
import { rewritePlaces } from './mask-request.ts';
import { mapStrings } from './mask-response.ts';

/** Replaces, in place, every entity still present in a request body by its type. */
export function redactRequestForAudit(body: unknown, kit: DetectorKit): unknown {
  rewritePlaces(scanRequest(body, kit.detector).places, (value) => redactFindings(value, { kit }));
  return body;
}

/** What an MCP server's `authorization_token` becomes in the audit record. */
export const REDACTED_CREDENTIAL = '[REDACTED]';

/**
 * The request body for the audit with every MCP server credential replaced by REDACTED_CREDENTIAL
 * (copied where changed, so the body that goes upstream keeps it): the upstream needs that token,
 * the audit never does, and a bearer token of arbitrary shape is nothing the detector can be
 * relied on to find.
 */
export function withoutCredentials(body: unknown): unknown {
  const servers = (body as { mcp_servers?: unknown } | null)?.mcp_servers;
  if (!Array.isArray(servers) || !servers.some((s) => s && typeof s === 'object' && 'authorization_token' in s))
    return body;
  const redacted = servers.map((s) =>
    s && typeof s === 'object' && 'authorization_token' in s ? { ...s, authorization_token: REDACTED_CREDENTIAL } : s,
  );
  return { ...(body as object), mcp_servers: redacted };
}

/**
 * A Message Batch body for the audit: each request's params cleared as a Messages body is
 * (entities by their type, MCP credentials replaced), copied where a credential is replaced.
 */
export function redactBatchForAudit(body: unknown, kit: DetectorKit): unknown {
  const requests = (body as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) return body;
  const cleared = requests.map((r: unknown) => {
    if (!r || typeof r !== 'object' || !('params' in r)) return r;
    return { ...r, params: withoutCredentials(redactRequestForAudit(r.params, kit)) };
  });
  return { ...(body as object), requests: cleared };
}

/**
 * The response for the session record with every entity still present replaced by its type, in
 * every string of the body: thinking, citations and tool results included, which the caller's
 * masking leaves alone.
 */
export function redactResponseForAudit(
  response: ExchangeRecordBody['response'],
  kit: DetectorKit,
): ExchangeRecordBody['response'] {
  if (!response || response.body === null || response.body === undefined) return response;
  return { ...response, body: mapStrings(response.body, (text) => redactFindings(text, { kit }), 'all') };
}
