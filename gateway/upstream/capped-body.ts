import type { Dispatcher } from 'undici';
import { SluiceError } from '../errors.ts';
import { upstreamError } from './forward.ts';

/** The refusal for an upstream answer larger than `limits.responseBytes`. */
export function answerTooLarge(connectionName: string, limit: number, detail: string): SluiceError {
  const message = `upstream "${connectionName}" answer ${detail} exceeds limits.responseBytes (${limit} bytes)`;
  return new SluiceError('SLUICE_ERR_UPSTREAM_TOO_LARGE', message);
}

/**
 * Reads a whole (non-streaming) upstream body, never holding more than `limit` bytes: a
 * content-length over the limit is refused before a byte is read, and an answer without one is
 * counted as it arrives. Either way the body is destroyed at once, which cancels the upstream
 * call instead of draining it. Other read failures map like any upstream failure.
 */
export async function readCappedBody(
  upstream: Dispatcher.ResponseData,
  limit: number,
  connectionName: string,
): Promise<Buffer> {
  const { body } = upstream;
  const declared = Number(upstream.headers['content-length']);
  if (declared > limit) {
    body.destroy();
    throw answerTooLarge(connectionName, limit, `of ${declared} bytes (content-length)`);
  }
  // With a declared length the chunks are copied into one buffer as they come: one copy of the
  // answer in memory, not the chunks plus their concatenation.
  const whole = Number.isSafeInteger(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : undefined;
  const parts: Buffer[] = [];
  let size = 0;
  let copied = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      // Leaving the loop by throwing destroys the body: nothing past the limit is read or kept.
      if (size + chunk.length > limit) throw answerTooLarge(connectionName, limit, `of more than ${limit} bytes`);
      if (whole && parts.length === 0 && size + chunk.length <= whole.length) copied += chunk.copy(whole, size);
      else parts.push(chunk);
      size += chunk.length;
    }
  } catch (err) {
    throw upstreamError(err, connectionName);
  }
  if (whole && size === whole.length) return whole;
  // No length declared, or a wrong one (undici checks it too): join what came.
  return Buffer.concat(whole ? [whole.subarray(0, copied), ...parts] : parts, size);
}
