/**
 * Request limits before authentication (gateway/identity/pre-auth-limits.ts): a flood of bad
 * tokens from one address is refused at the count, before the verifier looks at any of them (no
 * JWKS fetch for the refused ones), while another address still gets through; the same token from
 * anywhere is limited too; and the counts are an LRU of bounded size.
 */
import { generateKeyPair } from 'jose';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { type?: string; error?: { type: string; message: string } };
}

/** POST /v1/messages from `from` (a loopback address: 127/8 all reaches the gateway on 127.0.0.1). */
function call(h: Harness, token: string, from = '127.0.0.1'): Promise<Answer> {
  const body = JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
  });
  return new Promise((resolve, reject) => {
    const req = request(
      `${h.url}/v1/messages`,
      {
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: JSON.parse(Buffer.concat(chunks).toString()),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A token the IdP never issued: signed by another key under a kid it does not know, so each verify fetches JWKS. */
async function forgedToken(harness: Harness): Promise<string> {
  forger ??= (await generateKeyPair('RS256')).privateKey;
  return harness.idp.mint({ sub: 'mallory' }, { key: forger, kid: `forged-${Math.random()}` });
}
let forger: CryptoKey | undefined;

describe('pre-auth rate limits', () => {
  it('refuses a flood from one address before verifying its tokens; another address is unaffected', async () => {
    h = await startHarness({ rateLimits: { perAddress: 5, perToken: 1000, windowSeconds: 60 } });
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await call(h, await forgedToken(h)));
    // Each bad token was verified: 401, and its unknown kid made the verifier fetch the JWKS.
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    const fetchedWhileAllowed = h.idp.requests.jwks;
    expect(fetchedWhileAllowed).toBeGreaterThanOrEqual(5);

    const refused: Answer[] = [];
    for (let i = 0; i < 20; i++) refused.push(await call(h, await forgedToken(h)));
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
    expect(refused[0]!.body.error!.message).toMatch(/more than 5 requests with this address/);
    // Not one of the 20 refused tokens reached the verifier.
    expect(h.idp.requests.jwks).toBe(fetchedWhileAllowed);
    // Operators see the flood in /metrics (itself refused from the flooding address, so asked from another).
    const metrics = await new Promise<string>((resolve, reject) => {
      const req = request(`${h!.url}/metrics`, { localAddress: '127.0.0.3', agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(metrics).toContain('sluice_rate_limited_total{limit="address"} 20');

    // Another source address: its own count, and a valid token goes all the way through.
    const good = await call(h, await h.token(['engineering'], 'alice'), '127.0.0.2');
    expect(good.status).toBe(200);
    expect(good.body.type).toBe('message');
  });

  it('limits one token from any address, and forgets the least recently seen beyond maxTracked', async () => {
    h = await startHarness({ rateLimits: { perAddress: 1000, perToken: 2, maxTracked: 3 } });
    const token = await h.token(['engineering'], 'alice');
    expect((await call(h, token, '127.0.0.1')).status).toBe(200);
    expect((await call(h, token, '127.0.0.2')).status).toBe(200);
    const third = await call(h, token, '127.0.0.3');
    expect(third.status).toBe(429);
    expect(third.body.error!.message).toMatch(/more than 2 requests with this token/);
    // Other tokens are counted on their own.
    const others = [await h.token(['engineering'], 'bob'), await h.token(['engineering'], 'carol')];
    for (const other of others) expect((await call(h, other)).status).toBe(200);
    // A third new token overfills the LRU of 3; alice's, seen least recently, is forgotten.
    expect((await call(h, await h.token(['engineering'], 'dave'))).status).toBe(200);
    expect((await call(h, token)).status).toBe(200);
  });

  it('is off when rateLimits.enabled is false', async () => {
    h = await startHarness({ rateLimits: { enabled: false, perAddress: 1, perToken: 1 } });
    const token = await h.token(['engineering'], 'alice');
    for (let i = 0; i < 3; i++) expect((await call(h, token)).status).toBe(200);
  });
});
