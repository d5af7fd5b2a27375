/**
 * A policy that cannot be honoured refuses the call: a result outside the contract is a 500
 * api_error and nothing reaches the upstream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bundleOf } from '../helpers/policy-fixtures.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function callWith(
  rego: string,
): Promise<{ status: number; body: { error: { type: string; message: string } }; forwarded: number }> {
  h = await startHarness({ policyBundle: await bundleOf(rego) });
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token(['engineering'])}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: (await res.json()) as never, forwarded: h.upstream.requests.length };
}

describe('policy fails closed', () => {
  it('a bundle whose smoke evaluation fails is refused at start', async () => {
    await expect(startHarness({ policyBundle: await bundleOf('decision := {"allow": "yes please"}') })).rejects.toThrow(
      /does not evaluate/,
    );
  });

  // The policies below pass the load-time smoke evaluation (a caller without groups) and go
  // wrong only for a real caller, so the per-request path is what is tested.
  it('a result outside the decision contract', async () => {
    const { status, body, forwarded } = await callWith(
      'default decision := {"allow": false}\n\n' +
        'decision := {"allow": "yes please"} if "engineering" in input.identity.groups',
    );
    expect(status).toBe(500);
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toMatch(/decision contract/);
    expect(forwarded).toBe(0);
  });

  it('an undefined decision', async () => {
    const { status, forwarded } = await callWith(
      'decision := {"allow": false} if not "engineering" in input.identity.groups',
    );
    expect(status).toBe(500);
    expect(forwarded).toBe(0);
  });

  it('a plain allow from the same fixture machinery is forwarded (the fixtures themselves work)', async () => {
    const { status, forwarded } = await callWith('decision := {"allow": true}');
    expect(status).toBe(200);
    expect(forwarded).toBe(1);
  });
});
