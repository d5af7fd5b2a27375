/**
 * The OCSF projection of every audit event kind: each projected event validates against the pinned OCSF
 * release's JSON Schema (and a deliberately wrong one does not), and carries what the mapping promises.
 */
import type { AuditDraft } from '../../../gateway/audit/event-content.ts';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type {
  AuditEvent,
  AuditEventBody,
  DecisionEventBody,
  ExchangeRecordBody,
} from '../../../gateway/audit/events.ts';
import { OCSF_VERSION } from '../../../gateway/audit/ocsf-project.ts';
import { OcsfAuditSink, withFormat } from '../../../gateway/audit/ocsf-sink.ts';
import type { AuditSink } from '../../../gateway/audit/sink.ts';
import { ocsfErrors } from '../../helpers/ocsf-schemas.ts';

type Ocsf = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An AuditLog whose one sink is the OCSF projection over a sink that keeps the lines it gets. */
function ocsfLog(): { log: AuditLog; lines: string[]; sink: OcsfAuditSink } {
  const lines: string[] = [];
  const capture: AuditSink = {
    name: 'capture',
    write: (_e: AuditEvent, line: string) => void lines.push(line),
    flush: async () => {},
    close: async () => {},
  };
  const sink = new OcsfAuditSink(capture, { productVersion: '9.9.9' });
  return { log: new AuditLog([sink]), lines, sink };
}

function project(...bodies: AuditEventBody[]): Ocsf[] {
  const { log, lines } = ocsfLog();
  for (const b of bodies) log.record(b as AuditDraft);
  log.head(); // writes what is queued
  return lines.map((l) => JSON.parse(l) as Ocsf);
}

const AT = '2026-12-04T09:00:00.000Z';

function decision(over: Partial<DecisionEventBody> = {}): DecisionEventBody {
  return {
    kind: 'decision',
    decision_id: 'd-1',
    path: 'sluice/decision',
    input: {
      identity: { sub: 'alice', iss: 'https://idp.example', issuer_name: 'corp', client_id: 'cli', groups: ['eng'] },
      connection: 'anthropic',
      request: {
        operation: 'messages.create',
        model: 'claude-sonnet-4-6',
        text: { sha256: 'x', length: 1, findings: { EMAIL: 2 } },
        findings: { EMAIL: 2 },
      },
    } as unknown as DecisionEventBody['input'],
    erased: ['/input/request/text'],
    result: { allow: true, reasons: [], labels: { rule: 'grant' } },
    bundles: { sluice: { revision: '2026.12.01-1' } },
    timestamp: AT,
    labels: { id: 'i', app: 'sluice' },
    requested_by: '10.0.0.7',
    metrics: {},
    outcome: 'allow',
    subject: 'alice',
    reasons: [],
    session_id: 'ses_1',
    approval: null,
    masks_applied: [],
    ...over,
  };
}

function exchange(over: Partial<ExchangeRecordBody> = {}): ExchangeRecordBody {
  return {
    kind: 'exchange',
    decision_id: 'd-1',
    timestamp: AT,
    subject: 'alice',
    session_id: 'ses_1',
    connection: 'anthropic',
    operation: 'messages.create',
    outcome: 'allow',
    masks_applied: [],
    request: { model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'SECRET PROMPT' }] },
    response: {
      status: 200,
      stream: false,
      body: { content: [{ type: 'text', text: 'SECRET ANSWER' }] },
      usage: { input_tokens: 12, output_tokens: 8 },
    },
    timings_ms: { auth: 1.2, total: 9.8 },
    cost_usd: 0.000156,
    ...over,
  };
}

const approval = (state: 'requested' | 'approved' | 'denied' | 'expired' | 'used', actor: string | null) =>
  ({
    kind: 'approval',
    approval_id: 'apr_1',
    state,
    timestamp: AT,
    subject: 'alice',
    actor,
    comment: state === 'denied' ? 'not today' : null,
    decision_id: 'd-1',
    connection: 'anthropic',
    reason: 'the prompt mentions production credentials',
    approver_groups: ['admins'],
    body_sha256: 'ab'.repeat(32),
    expires_at: '2026-12-04T09:05:00.000Z',
  }) as const;

const ALL_KINDS: AuditEventBody[] = [
  decision(),
  exchange(),
  decision({ decision_id: 'd-2', outcome: 'mask', masks_applied: [{ type: 'EMAIL', count: 2, path: 'm' }] }),
  exchange({
    decision_id: 'd-2',
    outcome: 'mask',
    masks_applied: [
      { type: 'EMAIL', count: 2, path: 'request.messages[0].content' },
      { type: 'EMAIL', count: 1, path: 'response.content[0].text' },
      { type: 'IP_ADDRESS', count: 1, path: 'request.messages[0].content' },
    ],
  }),
  decision({ decision_id: 'd-3', outcome: 'deny', reasons: ['credentials in prompt'], result: { allow: false } }),
  exchange({
    decision_id: 'd-3',
    outcome: 'deny',
    error: { code: 'SLUICE_ERR_POLICY_DENIED', message: 'credentials in prompt' },
    response: {
      status: 403,
      stream: false,
      body: null,
      usage: null,
      error: { type: 'permission_error', message: 'credentials in prompt', code: 'SLUICE_ERR_POLICY_DENIED' },
    },
  }),
  decision({ decision_id: 'd-4', outcome: 'approval_required', approval: { id: 'apr_1', state: 'requested' } }),
  approval('requested', null),
  approval('approved', 'bob'),
  approval('denied', 'bob'),
  approval('expired', null),
  approval('used', null),
  exchange({ decision_id: 'd-4', outcome: 'approval_required', response: null, cost_usd: undefined }),
  decision({ decision_id: 'd-5', custom_id: 'req-1', batch_decision_id: 'd-6' }),
  {
    kind: 'access',
    object: 'session',
    session_id: 'ses_1',
    state: 'opened',
    timestamp: AT,
    subject: 'alice',
    connection: 'anthropic',
    cause: null,
    actor: null,
  },
  {
    kind: 'access',
    object: 'session',
    session_id: 'ses_1',
    state: 'revoked',
    timestamp: AT,
    subject: 'alice',
    connection: 'anthropic',
    cause: 'admin',
    actor: 'root',
  },
  ...(['requested', 'approved', 'denied', 'revoked', 'expired'] as const).map((state): AuditEventBody => ({
    kind: 'access',
    object: 'grant',
    grant_id: 'gr_1',
    state,
    timestamp: AT,
    subject: 'alice',
    connection: 'anthropic',
    actor: state === 'requested' ? 'alice' : state === 'expired' ? null : 'bob',
    reason: 'incident 7',
    comment: null,
    expires_at: '2026-12-04T10:00:00.000Z',
  })),
  {
    kind: 'authentication',
    outcome: 'failure',
    timestamp: AT,
    subject: null,
    reason_code: 'SLUICE_ERR_AUTH_INVALID',
    reason: 'invalid token: issuer "https://evil.example" is not trusted here',
    issuer: 'https://evil.example',
    source_address: '203.0.113.9',
    connection: 'anthropic',
    operation: 'messages.create',
    decision_id: 'd-9',
  },
  {
    kind: 'audit_recovery',
    timestamp: AT,
    subject: null,
    file: '/var/lib/sluice/audit/audit.jsonl',
    torn_bytes: 17,
    torn_sha256: 'cd'.repeat(32),
    moved_to: '/var/lib/sluice/audit/audit.jsonl.torn',
    reason: 'not JSON',
  },
];

describe('OCSF projection', () => {
  const events = project(...ALL_KINDS);

  it('projects every kind to an event that validates against the pinned OCSF schema', () => {
    // Decisions of calls fold into their exchange's API Activity; the batch request's stands alone.
    expect(events).toHaveLength(ALL_KINDS.length - 4);
    expect(new Set(events.map((e) => e.class_uid))).toEqual(new Set([6003, 3005, 3003, 3002, 1008]));
    for (const e of events) expect(ocsfErrors(e), JSON.stringify(e)).toEqual([]);
  });

  it('rejects a deliberately wrong event: the schema check is real', () => {
    const good = events[0]!;
    expect(ocsfErrors(good)).toEqual([]);
    expect(ocsfErrors({ ...good, disposition_id: 42 }).join()).toMatch(/disposition_id.*allowed values/);
    expect(ocsfErrors({ ...good, actor: undefined }).join()).toMatch(/required.*actor/);
    expect(ocsfErrors({ ...good, sluice_outcome: 'allow' }).join()).toMatch(/additional properties/);
    expect(ocsfErrors({ ...good, metadata: { ...good.metadata, version: 1 } }).join()).toMatch(/metadata\/version/);
  });

  it('states the pinned OCSF version and the product in every event', () => {
    for (const e of events) {
      expect(e.metadata).toMatchObject({
        version: OCSF_VERSION,
        product: { name: 'Sluice', vendor_name: 'Sluice', version: '9.9.9' },
      });
    }
  });

  it('makes one API Activity per call from its exchange record and decision', () => {
    const call = events[0]!;
    expect(call).toMatchObject({
      class_uid: 6003,
      type_uid: 600301,
      activity_name: 'Create',
      actor: {
        user: { uid: 'alice', type_id: 1, groups: [{ name: 'eng' }] },
        idp: { uid: 'https://idp.example', name: 'corp' },
        session: { uid: 'ses_1' },
      },
      api: {
        operation: 'messages.create',
        service: { name: 'Claude API', uid: 'anthropic' },
        request: { uid: 'd-1' },
        response: { code: 200 },
      },
      src_endpoint: { ip: '10.0.0.7' },
      http_request: { http_method: 'POST', url: { path: '/v1/messages' } },
      http_response: { code: 200 },
      status_id: 1,
      disposition_id: 1,
      action_id: 1,
      policy: { version: '2026.12.01-1', name: 'grant', is_applied: true },
      duration: 10,
      metadata: { correlation_uid: 'd-1', profiles: ['security_control'], event_code: 'exchange' },
    });
    expect(call.enrichments).toContainEqual(
      expect.objectContaining({
        type: 'token_usage',
        value: 'claude-sonnet-4-6',
        data: { input_tokens: 12, output_tokens: 8, cost_usd: 0.000156 },
      }),
    );
    expect(call.enrichments).toContainEqual(
      expect.objectContaining({ type: 'detected_entities', value: 'EMAIL', data: { count: 2 } }),
    );
  });

  it('never carries prompt or answer content', () => {
    const all = JSON.stringify(events);
    expect(all).not.toContain('SECRET PROMPT');
    expect(all).not.toContain('SECRET ANSWER');
  });

  it('maps each outcome to an OCSF action and disposition that exist', () => {
    const calls = events.filter((e) => e.class_uid === 6003 && e.api.request.uid !== 'd-5');
    expect(calls.map((c) => [c.api.request.uid, c.action_id, c.disposition_id, c.status_id])).toEqual([
      ['d-1', 1, 1, 1], // allowed
      ['d-2', 4, 11, 1], // masked: Modified / Corrected
      ['d-3', 2, 2, 2], // denied: Denied / Blocked
      ['d-4', 2, 14, 2], // approval required: Denied / Delayed
    ]);
  });

  it('shows a call the policy allowed but its spent budget refused as blocked', () => {
    const budget = { code: 'SLUICE_ERR_BUDGET_EXCEEDED', message: 'a usage budget … is spent' };
    const [call] = project(
      decision(),
      exchange({
        error: budget,
        response: {
          status: 429,
          stream: false,
          body: null,
          usage: null,
          error: { type: 'rate_limit_error', ...budget },
        },
      }),
    );
    expect(call).toMatchObject({ action_id: 2, disposition_id: 2, status_id: 2, api: { response: { code: 429 } } });
    expect(call!.api.response.error).toBe('SLUICE_ERR_BUDGET_EXCEEDED');
    expect(ocsfErrors(call)).toEqual([]);
  });

  it('counts masked entities per type, request and answer together', () => {
    const masked = events.find((e) => e.api?.request?.uid === 'd-2')!;
    const masks = masked.enrichments.filter((x: Ocsf) => x.type === 'masked_entities');
    expect(masks).toEqual([
      expect.objectContaining({ name: 'masks_applied', value: 'EMAIL', data: { count: 3 } }),
      expect.objectContaining({ name: 'masks_applied', value: 'IP_ADDRESS', data: { count: 1 } }),
    ]);
  });

  it('names the denial: error code, reasons and the policy that decided', () => {
    const denied = events.find((e) => e.api?.request?.uid === 'd-3')!;
    expect(denied).toMatchObject({
      status_code: '403',
      status_detail: 'SLUICE_ERR_POLICY_DENIED',
      severity_id: 3,
      api: { response: { code: 403, error: 'SLUICE_ERR_POLICY_DENIED' } },
      policy: { desc: 'credentials in prompt' },
    });
  });

  it('makes the approver the actor of an approval, the requester its user', () => {
    const approvals = events.filter((e) => e.resources?.[0]?.type === 'sluice.approval');
    expect(approvals.map((a) => [a.activity_name, a.actor.user?.uid ?? a.actor.app_name, a.status_id])).toEqual([
      ['Request', 'Sluice', 1],
      ['Assign Privileges', 'bob', 1],
      ['Deny', 'bob', 2],
      ['Revoke Privileges', 'Sluice', 2],
      ['Use', 'Sluice', 1],
    ]);
    for (const a of approvals) expect(a.user).toMatchObject({ uid: 'alice' });
  });

  it('projects JIT sessions to Authorize Session and grants to User Access Management', () => {
    const sessions = events.filter((e) => e.class_uid === 3003);
    expect(sessions.map((s) => [s.activity_id, s.session.uid, s.actor.user?.uid])).toEqual([
      [1, 'ses_1', 'alice'],
      [99, 'ses_1', 'root'],
    ]);
    const grants = events.filter((e) => e.resources?.[0]?.type === 'sluice.grant');
    expect(grants.map((g) => g.activity_id)).toEqual([99, 1, 99, 2, 2]);
  });

  it('projects a refused token to a failed Authentication with its reason code and claimed issuer', () => {
    const auth = events.find((e) => e.class_uid === 3002)!;
    expect(auth).toMatchObject({
      activity_id: 1,
      status_id: 2,
      status_code: 'SLUICE_ERR_AUTH_INVALID',
      actor: { idp: { uid: 'https://evil.example' } },
      src_endpoint: { ip: '203.0.113.9' },
      metadata: { correlation_uid: 'd-9' },
    });
  });

  it('marks a service account (token issued to the client itself) as one', () => {
    const [svc] = project(
      decision({
        input: {
          identity: { sub: 'ci-bot', client_id: 'ci-bot', groups: [] },
          request: {},
        } as unknown as DecisionEventBody['input'],
      }),
      exchange({ subject: 'ci-bot' }),
    );
    expect(svc!.actor.user).toMatchObject({ uid: 'ci-bot', type_id: 4, type: 'Service' });
    expect(ocsfErrors(svc)).toEqual([]);
  });

  it('still projects a call whose decision it never saw (after a restart), valid but without policy', () => {
    const [alone] = project(exchange({ decision_id: 'unseen' }));
    expect(alone).toMatchObject({ actor: { user: { uid: 'alice' } }, src_endpoint: { name: 'unknown' } });
    expect(alone!.policy).toBeUndefined();
    expect(ocsfErrors(alone)).toEqual([]);
  });

  it('reads findings where schema 2 keeps them, beside the prompt hash', () => {
    const v2 = decision({
      input: {
        identity: { sub: 'alice' },
        request: { text: { sha256: 'ab', length: 3, findings: { JWT: 1 } } },
      } as unknown as DecisionEventBody['input'],
    });
    const [call] = project(v2, exchange());
    expect(call!.enrichments).toContainEqual(expect.objectContaining({ type: 'detected_entities', value: 'JWT' }));
  });

  it('stops accepting when a projection fails, rather than leaving the SIEM feed silently short', async () => {
    const { log, lines, sink } = ocsfLog();
    log.record({ ...exchange(), timings_ms: null } as unknown as AuditDraft);
    log.head();
    expect(lines).toEqual([]);
    expect(sink.health()).toMatchObject({ accepting: false, metrics: { ocsf_projection_failures_total: 1 } });
    await expect(sink.written()).rejects.toThrow(/OCSF projection/);
  });

  it('leaves a sink in the sluice format untouched', () => {
    const capture: AuditSink = { name: 'x', write: () => {}, flush: async () => {}, close: async () => {} };
    expect(withFormat(capture, 'sluice')).toBe(capture);
    expect(withFormat(capture, 'ocsf')).toBeInstanceOf(OcsfAuditSink);
  });
});
