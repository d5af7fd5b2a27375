import type { IncomingHttpHeaders } from 'node:http';
import type { OperationSpec } from '../operations/operation-table.ts';
import { inspectBatchRequests, type BatchItem } from './batch-request.ts';
import type { RequestFacts } from './facts.ts';
import { parseJsonBody, type JsonBody } from './json-body.ts';
import { inspectBodilessRequest, inspectMessagesRequest, parseBetas } from './messages-request.ts';
import type { UnknownBlocks } from './request-schema.ts';

/** What the caller sent, as the inspect stage reads it. */
export interface RequestParts {
  readonly headers: IncomingHttpHeaders;
  readonly params: Readonly<Record<string, string>>;
  /** The raw body bytes (POST routes), before any parsing. */
  readonly raw: Buffer | undefined;
}

/** The inspect stage's output: the facts the policy decides on and the body they were read from. */
export interface Inspected {
  readonly facts: RequestFacts;
  /** The parsed body with its exact bytes; undefined for a body-less operation. */
  readonly body: JsonBody | undefined;
  /** A Message Batch's requests, each inspected as `messages.create` (operations of request shape `batch`). */
  readonly batch?: readonly BatchItem[];
}

/**
 * Parses and validates the request as its operation declares (duplicate keys, depth, schema) and
 * derives the facts. Throws a 400 SluiceError for anything the Claude API would refuse.
 */
export function inspectRequest(op: OperationSpec, parts: RequestParts, unknownBlocks: UnknownBlocks): Inspected {
  const betas = parseBetas(parts.headers['anthropic-beta']);
  switch (op.request) {
    case 'message': {
      const body = parseJsonBody(parts.raw);
      return { facts: inspectMessagesRequest(op.operation, body.value, betas, unknownBlocks), body };
    }
    case 'batch': {
      // The envelope's own facts carry no prompt: each request is decided on its own facts.
      const body = parseJsonBody(parts.raw);
      const batch = inspectBatchRequests(body.value, betas, unknownBlocks);
      return { facts: inspectBodilessRequest(op.operation, undefined, betas), body, batch };
    }
    case 'none': {
      // The model routes name their model in the path; a file id is no model.
      const idParam = op.resource?.type === 'model' ? op.resource.idParam : undefined;
      const id = idParam === undefined ? undefined : parts.params[idParam];
      return { facts: inspectBodilessRequest(op.operation, id, betas), body: undefined };
    }
    case 'upload':
    case 'skill_upload':
      // The body was spooled to disk before this stage (upload-spool.ts); its facts are the policy's `upload`.
      return { facts: inspectBodilessRequest(op.operation, undefined, betas), body: undefined };
  }
}
