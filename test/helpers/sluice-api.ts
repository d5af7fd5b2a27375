/**
 * A small client for Sluice's approver/admin REST API (/sluice/api) in tests: plain fetch with
 * a bearer token from the test IdP, plus a poll for the approval a held call created.
 */
import { vi } from 'vitest';
import type { Harness } from './gateway-harness.ts';

/** Status and parsed JSON body of one API call. */
export interface ApiResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

/** An approval as the API returns it (the fields tests look at). */
export interface ApiApproval {
  id: string;
  state: string;
  subject: string;
  reason: string;
  approverGroups: string[];
  bodySha256: string;
  expiresAt: string;
  verdict: { approver: string; comment: string; at: string } | null;
  may_decide?: boolean;
}

/** Calls `path` under /sluice/api as `sub` with `groups`. */
export async function api<T = Record<string, unknown>>(
  h: Harness,
  as: { sub: string; groups: string[] },
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse<T>> {
  const token = await h.token(as.groups, as.sub);
  const res = await fetch(`${h.url}/sluice/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Polls until an approval requested by `subject` is pending (as seen by approver `as`): the held
 * call creates it inside the gateway, and nothing but the API tells a caller it exists.
 */
export async function waitForPending(
  h: Harness,
  as: { sub: string; groups: string[] },
  subject: string,
  timeoutMs = 5000,
): Promise<ApiApproval> {
  return vi.waitFor(
    async () => {
      const { body } = await api<{ data: ApiApproval[] }>(h, as, 'GET', '/approvals?state=pending');
      const found = body.data?.find((a) => a.subject === subject);
      if (!found) throw new Error(`no pending approval for ${subject} within ${timeoutMs} ms`);
      return found;
    },
    { timeout: timeoutMs, interval: 50 },
  );
}
