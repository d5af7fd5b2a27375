/**
 * The last line before the audit log: whatever the policy chose to mask, no detected entity value
 * is written to the audit record. Entities the policy let through (the upstream saw them) are
 * replaced by their type, `[EMAIL]`, in the stored request and response; placeholders and other
 * masks already in place are left as they are. Runs after the answer is sent, off the latency path.
 */
import type { SessionRecordBody } from '../audit/events.ts';
import type { DetectorKit } from '../inspect/detector-kit.ts';
import { scanRequest } from '../inspect/request-entities.ts';
import { redactFindings, rewritePlaces } from './mask-request.ts';
import { mapStrings } from './mask-response.ts';

/** Replaces, in place, every entity still present in a request body by its type. */
export function redactRequestForAudit(body: unknown, kit: DetectorKit): unknown {
  rewritePlaces(scanRequest(body, kit.detector).places, (value) => redactFindings(value, { kit }));
  return body;
}

/**
 * The response for the session record with every entity still present replaced by its type, in
 * every string of the body: thinking, citations and tool results included, which the caller's
 * masking leaves alone.
 */
export function redactResponseForAudit(response: SessionRecordBody['response'], kit: DetectorKit): SessionRecordBody['response'] {
  if (!response || response.body === null || response.body === undefined) return response;
  return { ...response, body: mapStrings(response.body, (text) => redactFindings(text, { kit }), 'all') };
}
