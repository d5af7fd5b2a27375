/**
 * A hold outlives the slow-client guard (limits.requestTimeoutMs covers receiving the request,
 * not waiting for a human), and a shutdown answers held callers at once instead of waiting.
 */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startHarness } from '../../helpers/gateway-harness.ts';
import { api, waitForPending } from '../../helpers/sluice-api.ts';

const BOB = { sub: 'bob', groups: ['admins'] };
const params = {
  model: 'claude-sonnet-4-6',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Audit the production credentials vault.' }],
};

describe('holding a call', () => {
  it('outlasts limits.requestTimeoutMs and still returns the real answer', async () => {
    const h = await startHarness({ clientRequestTimeoutMs: 1000, approvals: { holdSeconds: 10, keepAliveSeconds: 1 } });
    try {
      const call = (await h.client(['engineering'], 'alice')).messages.create(params);
      const pending = await waitForPending(h, BOB, 'alice');
      // The sleep is the test: the hold must outlast limits.requestTimeoutMs (1 s) before the verdict comes.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await api(h, BOB, 'POST', `/approvals/${pending.id}/approve`, { comment: 'ok' })).status).toBe(200);
      expect((await call).type).toBe('message');
    } finally {
      await h.close();
    }
  });

  it('answers held callers with the approval id when the gateway shuts down', async () => {
    const h = await startHarness({ approvals: { holdSeconds: 120 } });
    const call = (await h.client(['engineering'], 'alice')).messages.create(params).catch((e: unknown) => e);
    const pending = await waitForPending(h, BOB, 'alice');
    const started = Date.now();
    await h.close();
    expect(Date.now() - started).toBeLessThan(5000);
    const err = await call;
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((err as Error).message).toContain(pending.id);
  });
});
