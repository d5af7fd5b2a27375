import { expect } from 'vitest';
import { ERRORS, SluiceError, type SluiceErrorCode } from '../../../gateway/errors.ts';

/**
 * Awaits `action` and asserts it was refused with a SluiceError carrying `code`, the status the
 * error table gives that code, and a message matching `message`. With `token`, also asserts the
 * message quotes no part of it (errors reach clients and logs). Returns the error.
 */
export async function expectSluiceError(
  action: Promise<unknown> | (() => unknown),
  code: SluiceErrorCode,
  message: RegExp,
  token?: string,
): Promise<SluiceError> {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a SluiceError ${code}, but nothing was thrown`).toBeInstanceOf(SluiceError);
  const err = caught as SluiceError;
  expect({ code: err.code, status: err.status, message: err.message }).toMatchObject({
    code,
    status: ERRORS[code].status,
  });
  expect(err.message).toMatch(message);
  if (token !== undefined) {
    for (const part of token.split('.')) if (part.length >= 8) expect(err.message).not.toContain(part.slice(0, 64));
  }
  return err;
}
