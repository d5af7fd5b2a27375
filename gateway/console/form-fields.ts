import type { FastifyRequest } from 'fastify';
import { SluiceError } from '../errors.ts';

/**
 * The fields of a console form post: each of `names` at most once, `_csrf` (every form carries
 * it, checked by the plugin's hook), and nothing else. A field the form does not have is refused
 * with 400 rather than ignored, as the JSON API refuses unknown fields: what was sent is what was
 * decided on. A field sent twice is refused too, instead of reaching a handler as an array.
 */
export function formFields<K extends string>(req: FastifyRequest, names: readonly K[]): Partial<Record<K, string>> {
  const body: unknown = req.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', 'expected a form');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => key !== '_csrf' && !(names as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `unknown form field(s): ${unknown.join(', ')}`);
  }
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `form field ${name} sent more than once`);
    }
    out[name] = value;
  }
  return out;
}
