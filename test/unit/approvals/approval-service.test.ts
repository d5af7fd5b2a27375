import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApprovalService, type ApprovalRequest } from '../../../gateway/access/approval-service.ts';
import type { StateStores } from '../../../gateway/store/open-state.ts';
import { openTestState } from '../../helpers/test-state.ts';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import type { Identity } from '../../../gateway/identity/identity.ts';

const who = (sub: string, groups: string[]): Identity => ({
  sub,
  iss: 'https://idp',
  clientId: undefined,
  groups,
  scopes: [],
  tokenId: undefined,
  issuedAt: 0,
  expiresAt: 0,
});
const request: ApprovalRequest = {
  subject: 'alice',
  requesterGroups: ['engineering'],
  connection: 'anthropic',
  operation: 'messages.create',
  model: 'm',
  bodySha256: 'abc',
  reason: 'keyword',
  labels: { rule: 'approval' },
  findings: {},
  approverGroups: ['admins'],
  ttlSeconds: 60,
  decisionId: 'd1',
};

let clock: number;
let events: AuditEvent[];
let audit: AuditLog;
let service: ApprovalService;
let pending: string[];
let state: StateStores;

afterEach(async () => {
  await state.close();
});

beforeEach(async () => {
  clock = Date.parse('2025-06-01T12:00:00Z');
  events = [];
  pending = [];
  audit = new AuditLog([
    { name: 'mem', write: (e) => events.push(e), flush: async () => {}, close: async () => {} },
  ]);
  state = await openTestState();
  const store = state.approvals;
  service = new ApprovalService(
    store,
    audit,
    (a) => pending.push(a.id),
    () => new Date(clock),
  );
});

describe('ApprovalService', () => {
  it('creates a pending approval bound to subject and body, announced and audited', async () => {
    const a = await service.request(request);
    expect(a).toMatchObject({
      state: 'pending',
      subject: 'alice',
      bodySha256: 'abc',
      expiresAt: '2025-06-01T12:01:00.000Z',
    });
    expect(a.id).toMatch(/^apr_[\w-]{16}$/);
    expect(pending).toEqual([a.id]);
    await audit.written();
    expect(events.map((e) => e.kind === 'approval' && e.state)).toEqual(['requested']);
  });

  it('lets only another member of an approver group decide, once', async () => {
    const a = await service.request(request);
    await expect(service.decide(a.id, who('alice', ['admins']), 'approve', 'x')).rejects.toMatchObject({
      code: 'SLUICE_ERR_FORBIDDEN',
    });
    await expect(service.decide(a.id, who('carol', ['engineering']), 'approve', 'x')).rejects.toMatchObject({
      code: 'SLUICE_ERR_FORBIDDEN',
    });
    await expect(service.decide('apr_missing', who('bob', ['admins']), 'approve', 'x')).rejects.toMatchObject({
      code: 'SLUICE_ERR_NOT_FOUND',
    });
    const approved = await service.decide(a.id, who('bob', ['admins']), 'approve', 'go');
    expect(approved.verdict).toEqual({
      approver: 'bob',
      approverGroups: ['admins'],
      at: '2025-06-01T12:00:00.000Z',
      comment: 'go',
    });
    await expect(service.decide(a.id, who('dave', ['admins']), 'deny', 'no')).rejects.toMatchObject({
      code: 'SLUICE_ERR_CONFLICT',
    });
  });

  it('matches a resubmission only for the same subject, connection, operation and body; uses it once', async () => {
    const a = await service.request(request);
    const same = { subject: 'alice', connection: 'anthropic', operation: 'messages.create', bodySha256: 'abc' };
    expect((await service.matchPresented(a.id, same)).state).toBe('pending');
    await service.decide(a.id, who('bob', ['admins']), 'approve', 'ok');
    await expect(service.matchPresented(a.id, { ...same, subject: 'mallory' })).rejects.toMatchObject({
      code: 'SLUICE_ERR_APPROVAL_INVALID',
    });
    await expect(service.matchPresented(a.id, { ...same, bodySha256: 'abd' })).rejects.toMatchObject({
      code: 'SLUICE_ERR_APPROVAL_INVALID',
    });
    await expect(service.matchPresented(a.id, { ...same, connection: 'other' })).rejects.toMatchObject({
      code: 'SLUICE_ERR_APPROVAL_INVALID',
    });
    expect((await service.matchPresented(a.id, same)).state).toBe('approved');
    await service.use(a.id, 'd2');
    // Two resubmissions racing: only the first use wins.
    await expect(service.use(a.id, 'd3')).rejects.toMatchObject({ code: 'SLUICE_ERR_APPROVAL_INVALID' });
    await expect(service.matchPresented(a.id, same)).rejects.toThrow(/already used/);
  });

  it('expires pending and approved approvals at expiresAt, and a denied one stays denied', async () => {
    const a = await service.request(request);
    const b = await service.request(request);
    const c = await service.request(request);
    await service.decide(b.id, who('bob', ['admins']), 'approve', 'ok');
    await service.decide(c.id, who('bob', ['admins']), 'deny', 'no');
    clock += 60_000;
    expect(await service.expireDue()).toBe(2);
    expect((await service.get(a.id))!.state).toBe('expired');
    expect((await service.get(c.id))!.state).toBe('denied');
    await expect(
      service.matchPresented(b.id, {
        subject: 'alice',
        connection: 'anthropic',
        operation: 'messages.create',
        bodySha256: 'abc',
      }),
    ).rejects.toMatchObject({ code: 'SLUICE_ERR_APPROVAL_EXPIRED' });
    await expect(
      service.matchPresented(c.id, {
        subject: 'alice',
        connection: 'anthropic',
        operation: 'messages.create',
        bodySha256: 'abc',
      }),
    ).rejects.toMatchObject({ code: 'SLUICE_ERR_APPROVAL_DENIED' });
  });

  it('wakes a waiter on a decision, and releases every hold on shutdown', async () => {
    const a = await service.request(request);
    const waiting = service.waitFor(a.id, 10_000, new AbortController().signal);
    await service.decide(a.id, who('bob', ['admins']), 'deny', 'no');
    expect((await waiting).state).toBe('denied');
    const b = await service.request(request);
    const held = service.waitFor(b.id, 10_000, new AbortController().signal);
    service.releaseHolds();
    expect((await held).state).toBe('pending');
  });

  it('forgets finished approvals last touched before the cut-off; pending ones stay', async () => {
    const denied = await service.request(request);
    await service.decide(denied.id, who('bob', ['admins']), 'deny', 'no');
    clock += 3_600_000;
    const waiting = await service.request({ ...request, decisionId: 'd2' });
    expect(await service.pruneFinished(new Date(clock - 60_000))).toBe(1);
    expect(await service.get(denied.id)).toBeUndefined();
    expect((await service.get(waiting.id))?.state).toBe('pending');
    // Expired after its TTL (a minute): gone once the cut-off passes its expiry, not before.
    clock += 61_000;
    await service.expireDue();
    expect(await service.pruneFinished(new Date(clock - 60_000))).toBe(0);
    expect(await service.pruneFinished(new Date(clock + 1))).toBe(1);
  });
});
