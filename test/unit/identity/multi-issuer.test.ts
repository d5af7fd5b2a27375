/**
 * Several trusted issuers at once: people from one IdP, CI jobs from another (shaped like GitHub
 * Actions tokens), each verified with its own keys and audience, named in the identity, with only
 * the allow-listed claims passed on. Real HTTP issuers (TestIdp) on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../gateway/config.ts';
import { createVerifier } from '../../../gateway/identity/create-verifier.ts';
import type { TokenVerifier } from '../../../gateway/identity/identity.ts';
import { SluiceError } from '../../../gateway/errors.ts';
import { TestIdp } from '../../helpers/test-idp.ts';

let people: TestIdp;
let ci: TestIdp;
let stranger: TestIdp;
let verifier: TokenVerifier;

const GITHUB_CLAIMS = {
  sub: 'repo:acme/app:environment:prod',
  repository: 'acme/app',
  environment: 'prod',
  ref: 'refs/heads/main',
  job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
};

beforeAll(async () => {
  people = await TestIdp.start({ audience: 'sluice' });
  ci = await TestIdp.start({ audience: 'https://github.com/acme' });
  stranger = await TestIdp.start({ audience: 'sluice' });
  const config = resolveConfig(
    {
      identity: {
        issuer: people.issuer,
        audience: 'sluice',
        discoveryTimeoutMs: 400,
        jwksCooldownSeconds: 0,
        issuers: [
          {
            name: 'github',
            issuer: ci.issuer,
            audience: 'https://github.com/acme',
            claims: ['repository', 'environment', 'ref', 'missing_claim'],
            groupsFrom: [
              { claim: 'repository', equals: 'acme/app', groups: ['ci'] },
              { claim: 'ref', matches: 'refs/tags/v*', groups: ['release'] },
            ],
          },
        ],
      },
    },
    {},
  );
  verifier = createVerifier(config, config.identity.issuer, {});
});

afterAll(async () => {
  await Promise.all([people?.close(), ci?.close(), stranger?.close()]);
});

async function refusal(token: string): Promise<SluiceError> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SluiceError);
  return err as SluiceError;
}

describe('several trusted issuers', () => {
  it('verifies a person of the people IdP as before: plain subject, issuer "default", no claims', async () => {
    const identity = await verifier.verify(await people.mint({ sub: 'alice', groups: ['engineering'] }));
    expect(identity).toMatchObject({ sub: 'alice', iss: people.issuer, issuerName: 'default', claims: {} });
    expect(identity.groups).toEqual(['engineering']);
  });

  it('verifies a CI token with its own keys: namespaced subject, only the allow-listed claims', async () => {
    const identity = await verifier.verify(await ci.mint({ ...GITHUB_CLAIMS, aud: 'https://github.com/acme' }));
    expect(identity.sub).toBe('github:repo:acme/app:environment:prod');
    expect(identity.issuerName).toBe('github');
    expect(identity.claims).toEqual({ repository: 'acme/app', environment: 'prod', ref: 'refs/heads/main' });
    expect(identity.groups).toEqual(['ci']);
  });

  it('grants groups by claim value (groupsFrom): an exact value, a glob, nothing for other values', async () => {
    const mint = (claims: Record<string, unknown>) => ci.mint({ ...claims, aud: 'https://github.com/acme' });
    const tag = await verifier.verify(await mint({ ...GITHUB_CLAIMS, ref: 'refs/tags/v1.2.0' }));
    expect(tag.groups).toEqual(['ci', 'release']);
    const other = await verifier.verify(
      await mint({ ...GITHUB_CLAIMS, repository: 'acme/other', ref: 'refs/tags/x1' }),
    );
    expect(other.groups).toEqual([]);
    // A glob is anchored and its other characters literal: "acme/app.evil" is not "acme/app", "v" must lead.
    const near = await verifier.verify(
      await mint({ ...GITHUB_CLAIMS, repository: 'acme/app.evil', ref: 'xrefs/tags/v1' }),
    );
    expect(near.groups).toEqual([]);
  });

  it('keeps the same sub of two issuers apart', async () => {
    const a = await verifier.verify(await people.mint({ sub: 'alice' }));
    const b = await verifier.verify(await ci.mint({ sub: 'alice', aud: 'https://github.com/acme' }));
    expect(a.sub).not.toBe(b.sub);
  });

  it('refuses an issuer nobody configured before fetching anything from it', async () => {
    const err = await refusal(await stranger.mint({ sub: 'mallory' }));
    expect(err.code).toBe('SLUICE_ERR_AUTH_INVALID');
    expect(err.message).toContain(`issuer "${stranger.issuer}" is not trusted here`);
    expect(stranger.requests).toEqual({ discovery: 0, jwks: 0 });
  });

  it("refuses a token claiming one issuer but signed with another issuer's key", async () => {
    const forged = await ci.mint(
      { ...GITHUB_CLAIMS, aud: 'https://github.com/acme' },
      { key: people.keys.RS256.privateKey, kid: people.keys.RS256.kid },
    );
    expect((await refusal(forged)).code).toBe('SLUICE_ERR_AUTH_INVALID');
  });

  it("refuses a token of the right issuer for another issuer's audience", async () => {
    const err = await refusal(await ci.mint({ ...GITHUB_CLAIMS, aud: 'sluice' }));
    expect(err.code).toBe('SLUICE_ERR_AUTH_INVALID');
    expect(err.message).toMatch(/aud/);
  });

  it('refuses a token without iss', async () => {
    expect((await refusal(await people.mint({ iss: undefined }))).code).toBe('SLUICE_ERR_AUTH_INVALID');
  });

  it('refuses a groupsFrom rule with both or neither of equals and matches', () => {
    const issuer = { name: 'gh', issuer: 'https://token.actions.githubusercontent.com', audience: 'x' };
    for (const rule of [
      { claim: 'ref', equals: 'a', matches: 'b*', groups: ['g'] },
      { claim: 'ref', groups: ['g'] },
    ]) {
      expect(() => resolveConfig({ identity: { issuers: [{ ...issuer, groupsFrom: [rule] }] } }, {})).toThrow(
        /identity\.issuers\.0\.groupsFrom\.0: give exactly one of equals, matches/,
      );
    }
  });
});
