/**
 * A gateway whose audit file is in `format: ocsf`: a normal call, a masked one, a denied one, an approved one and
 * refused tokens each leave OCSF events that validate against the pinned OCSF release's JSON Schemas, and never
 * a token or a raw entity value.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';
import { ocsfErrors } from '../helpers/ocsf-schemas.ts';
import { api, waitForPending } from '../helpers/sluice-api.ts';

type Ocsf = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ALICE = { sub: 'alice', groups: ['engineering'] };
const BOB = { sub: 'bob', groups: ['admins'] };
const MODEL = 'claude-sonnet-4-5';
const EMAIL = 'jane.roe@example.org';
const PEM_BODY = 'MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ';
const PEM = `-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----`;
const RISKY = 'Rotate the production credentials for the billing service.';
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A well-formed JWT from an issuer this gateway does not trust (its signature is never checked). */
const FOREIGN = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: 'https://evil.example', sub: 'mallory' })}.c2ln`;

let h: Harness;
let events: Ocsf[];
const tokens: string[] = [];

async function post(text: string, authorization?: string): Promise<number> {
  const token = await h.token(ALICE.groups, ALICE.sub);
  tokens.push(token);
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: authorization ?? `Bearer ${token}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: text }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  h = await startHarness({ auditFileFormat: 'ocsf', approvals: { holdSeconds: 20, keepAliveSeconds: 1 } });
  expect(await post('hello')).toBe(200);
  expect(await post(`mail ${EMAIL} please`)).toBe(200);
  expect(await post(`here:\n${PEM}`)).toBe(403);
  const held = post(RISKY);
  const pending = await waitForPending(h, BOB, 'alice');
  expect((await api(h, BOB, 'POST', `/approvals/${pending.id}/approve`, { comment: 'planned' })).status).toBe(200);
  expect(await held).toBe(200);
  expect(await post('hello', 'Bearer not-a-jwt')).toBe(401);
  expect(await post('hello', `Bearer ${FOREIGN}`)).toBe(401);
  await h.gateway.audit.flush();
  const text = await readFile(h.auditFile, 'utf8');
  events = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ocsf);
});
afterAll(async () => h?.close());

const calls = (): Ocsf[] => events.filter((e) => e.class_uid === 6003);

describe('audit file in OCSF format', () => {
  it('holds only OCSF events, each valid against the pinned schema', () => {
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(ocsfErrors(e), JSON.stringify(e)).toEqual([]);
    expect(events.every((e) => e.metadata.version === '1.8.0' && e.metadata.product.name === 'Sluice')).toBe(true);
  });

  it('has one API Activity per call with the disposition of each', () => {
    expect(calls().map((c) => [c.disposition, c.status_id, c.http_response?.code])).toEqual([
      ['Allowed', 1, 200],
      ['Corrected', 1, 200], // masked
      ['Blocked', 2, 403],
      ['Allowed', 1, 200], // approved, then forwarded
      ['Unauthorized', 2, 401],
      ['Unauthorized', 2, 401],
    ]);
    const [normal] = calls();
    expect(normal).toMatchObject({
      actor: { user: { uid: 'alice', groups: [{ name: 'engineering' }] }, idp: { uid: expect.any(String) } },
      api: { operation: 'messages.create', service: { name: 'Claude API' } },
      src_endpoint: { ip: expect.any(String) },
      policy: { version: expect.any(String), is_applied: true },
    });
    expect(normal!.enrichments).toContainEqual(expect.objectContaining({ type: 'token_usage' }));
  });

  it('counts the masked entities of the masked call, never their values', () => {
    const masked = calls()[1]!;
    expect(masked.enrichments).toContainEqual(
      expect.objectContaining({ type: 'masked_entities', value: 'EMAIL', data: { count: 1 } }),
    );
    expect(JSON.stringify(events)).not.toContain(EMAIL);
    expect(JSON.stringify(events)).not.toContain(PEM_BODY);
  });

  it('shows the blocked call found a credential', () => {
    const blocked = calls()[2]!;
    expect(blocked.enrichments).toContainEqual(
      expect.objectContaining({ type: 'detected_entities', value: 'PRIVATE_KEY' }),
    );
  });

  it('records the approval with the approver as actor', () => {
    const approvals = events.filter((e) => e.class_uid === 3005 && e.resources[0].type === 'sluice.approval');
    expect(approvals.map((a) => [a.activity_name, a.actor.user?.uid ?? a.actor.app_name])).toEqual([
      ['Request', 'Sluice'],
      ['Assign Privileges', 'bob'],
      ['Use', 'Sluice'],
    ]);
    expect(approvals[1]).toMatchObject({ user: { uid: 'alice' } });
  });

  it('records each refused token as a failed Authentication with its reason, never the token', () => {
    const auth = events.filter((e) => e.class_uid === 3002);
    expect(auth.map((a) => [a.status_id, a.status_code, a.actor.idp?.uid ?? null])).toEqual([
      [2, 'SLUICE_ERR_AUTH_INVALID', null],
      [2, 'SLUICE_ERR_AUTH_INVALID', 'https://evil.example'],
    ]);
    const all = JSON.stringify(events);
    expect(all).not.toContain('not-a-jwt');
    expect(all).not.toContain(FOREIGN.split('.')[1]!);
    for (const t of tokens) expect(all).not.toContain(t.split('.')[2]!);
  });
});
