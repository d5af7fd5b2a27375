/**
 * Two trusted issuers through the whole gateway: people from one IdP and CI jobs from a second
 * (GitHub Actions-shaped tokens, no groups). The policy decides CI calls on the allow-listed
 * claims it is given; subjects are namespaced per issuer in the audit; a third issuer is refused.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { bundleOf } from '../helpers/policy-fixtures.ts';
import { TestIdp } from '../helpers/test-idp.ts';

// People are allowed; a CI job only for repository acme/app in its prod environment.
const POLICY = `default decision := {"allow": false, "reasons": ["not allowed"], "labels": {"rule": "default_deny"}}

decision := {"allow": true, "reasons": [], "labels": {"rule": "people"}} if input.identity.issuer_name == "default"

decision := {"allow": true, "reasons": [], "labels": {"rule": "ci"}} if {
	input.identity.issuer_name == "github"
	input.identity.claims.repository == "acme/app"
	input.identity.claims.environment == "prod"
}`;

let ci: TestIdp;
let stranger: TestIdp;
let h: Harness;

beforeAll(async () => {
  ci = await TestIdp.start({ audience: 'https://github.com/acme' });
  stranger = await TestIdp.start();
  h = await startHarness({
    policyBundle: await bundleOf(POLICY, 'issuers'),
    identity: {
      issuers: [{ name: 'github', issuer: ci.issuer, audience: ci.audience, claims: ['repository', 'environment'] }],
    },
  });
});
afterAll(async () => {
  await h?.close();
  await Promise.all([ci?.close(), stranger?.close()]);
});

const hello = { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
const sdk = (url: string, token: string) =>
  new Anthropic({ baseURL: url, authToken: token, apiKey: null, maxRetries: 0 });

describe('several trusted issuers through the gateway', () => {
  it('lets a person and an allowed CI job in, each recorded under its own subject with its issuer', async () => {
    await sdk(h.url, await h.token(['engineering'], 'alice')).messages.create(hello);
    const job = { sub: 'repo:acme/app:environment:prod', repository: 'acme/app', environment: 'prod', ref: 'x' };
    await sdk(h.url, await ci.mint(job)).messages.create(hello);
    const decisions = (await h.auditEvents()).filter((e) => e.kind === 'decision');
    const ciDecision = decisions.find((e) => e.subject === 'github:repo:acme/app:environment:prod');
    expect(ciDecision).toMatchObject({ outcome: 'allow' });
    const identity = (ciDecision as { input: { identity: Record<string, unknown> } }).input.identity;
    // Only the allow-listed claims reach the policy (and the audit): `ref` is not one of them.
    expect(identity).toMatchObject({ issuer_name: 'github', claims: { repository: 'acme/app', environment: 'prod' } });
    expect(identity.claims).not.toHaveProperty('ref');
    expect(decisions.find((e) => e.subject === 'alice')).toMatchObject({ outcome: 'allow' });
  });

  it("refuses a CI job of another repository on the policy's reading of its claims", async () => {
    const other = await ci.mint({ sub: 'repo:acme/other:ref:main', repository: 'acme/other', environment: 'prod' });
    await expect(sdk(h.url, other).messages.create(hello)).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
  });

  it('refuses a token of an issuer nobody configured, without contacting it', async () => {
    const before = h.upstream.requests.length;
    const foreign = sdk(h.url, await stranger.mint({ sub: 'mallory' })).messages.create(hello);
    await expect(foreign).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    expect(stranger.requests).toEqual({ discovery: 0, jwks: 0 });
    expect(h.upstream.requests.length).toBe(before);
  });

  it("refuses the right issuer's token for another audience", async () => {
    const elsewhere = await ci.mint({ sub: 'repo:acme/app:environment:prod', aud: 'https://github.com/other-org' });
    await expect(sdk(h.url, elsewhere).messages.create(hello)).rejects.toMatchObject({
      status: 401,
      error: { error: { message: expect.stringMatching(/audience|aud/) } },
    });
  });

  it("refuses one issuer's token signed with another trusted issuer's key", async () => {
    // Claims of the GitHub issuer, signature of the people issuer (whose keys Sluice also trusts):
    // each issuer's tokens are checked with that issuer's keys only.
    const people = h.idp.keys.RS256;
    const forged = await ci.mint(
      { sub: 'repo:acme/app:environment:prod', repository: 'acme/app', environment: 'prod' },
      { key: people.privateKey, kid: people.kid },
    );
    const before = h.upstream.requests.length;
    await expect(sdk(h.url, forged).messages.create(hello)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    // And the other way round: a people token signed with the CI issuer's key.
    const ciKey = ci.keys.RS256;
    const forgedPerson = await h.idp.mint(
      { sub: 'alice', groups: ['engineering'] },
      { key: ciKey.privateKey, kid: ciKey.kid },
    );
    await expect(sdk(h.url, forgedPerson).messages.create(hello)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    expect(h.upstream.requests.length).toBe(before);
  });
});
