/**
 * The Python SDK (httpx) through a held call: it must skip the `102 Processing` keep-alives and
 * get the real stream once approved, or a real 403 PermissionDeniedError once denied.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { api, waitForPending } from '../../helpers/sluice-api.ts';

const run = promisify(execFile);
const BOB = { sub: 'bob', groups: ['admins'] };
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ approvals: { holdSeconds: 20, keepAliveSeconds: 1 } });
});
afterAll(async () => h?.close());

async function heldCall(prompt: string, verdict: 'approve' | 'deny'): Promise<Record<string, unknown>> {
  const env = {
    ...process.env,
    SLUICE_URL: h.url,
    SLUICE_TOKEN: await h.token(['engineering'], 'py-user'),
    PROMPT: prompt,
  };
  const call = run('.venv/bin/python', ['test/e2e/python/held_call.py'], { env, timeout: 25_000 });
  const pending = await waitForPending(h, BOB, 'py-user', 10_000);
  // The sleep is the test: two keep-alives (keepAliveSeconds 1) must reach httpx, which hides them.
  await new Promise((r) => setTimeout(r, 2200));
  expect(
    (await api(h, BOB, 'POST', `/approvals/${pending.id}/${verdict}`, { comment: `${verdict} from test` })).status,
  ).toBe(200);
  return { id: pending.id, ...(JSON.parse((await call).stdout) as Record<string, unknown>) };
}

describe('Python anthropic SDK held for approval', () => {
  it('streams after approval and gets 403 with the id after a denial', async () => {
    const approved = await heldCall('Share the production credentials checklist.', 'approve');
    expect(approved.text).toContain('production credentials checklist');
    const denied = await heldCall('Schedule the wire transfer now.', 'deny');
    expect(denied.status).toBe(403);
    expect(denied.message).toContain(denied.id as string);
  });
});
