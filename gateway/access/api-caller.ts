import type { FastifyRequest } from 'fastify';
import { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller of /sluice/api (same OIDC bearer tokens as the proxy). */
    apiIdentity?: Identity;
  }
}

/** The caller of an API route; the onRequest hook guarantees it is set. */
export function caller(req: FastifyRequest): Identity {
  if (!req.apiIdentity) throw new SluiceError('SLUICE_ERR_AUTH_MISSING');
  return req.apiIdentity;
}

/**
 * preValidation for actions that take no body (revoke): none or `{}`. A field is refused, not
 * ignored: a caller who sent `{"reason": …}` must not believe it was recorded.
 */
export async function refuseBodyFields(req: FastifyRequest): Promise<void> {
  const body: unknown = req.body;
  if (body === undefined || body === null) return;
  const fields = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : undefined;
  if (fields === undefined) throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'this action takes no body');
  if (fields.length > 0) {
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `this action takes no body fields; got ${fields.join(', ')}`);
  }
}

/** The body of an approve or deny (approvals and grants alike): exactly one comment, 1 to 2000 characters. */
export const VERDICT_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['comment'],
  properties: { comment: { type: 'string', minLength: 1, maxLength: 2000 } },
} as const;
