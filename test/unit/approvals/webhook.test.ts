import { describe, expect, it } from 'vitest';
import type { Approval } from '../../../gateway/access/approval-store.ts';
import { jsonPayload, slackPayload } from '../../../gateway/access/approval-webhook.ts';

const approval: Approval = {
  id: 'apr_1',
  state: 'pending',
  subject: 'alice',
  requesterGroups: ['engineering'],
  connection: 'anthropic',
  operation: 'messages.create',
  model: 'claude-sonnet-4-6',
  bodySha256: 'abc',
  reason: 'the prompt mentions wire transfer',
  labels: { rule: 'approval' },
  findings: { EMAIL: 1 },
  approverGroups: ['admins'],
  decisionId: 'd1',
  createdAt: '2025-06-01T12:00:00.000Z',
  expiresAt: '2025-06-01T13:00:00.000Z',
  verdict: null,
  usedAt: null,
  usedByDecisionId: null,
};

describe('approval webhook payloads', () => {
  it('generic JSON names the approval, the rule and a console link, and no body hash', () => {
    const p = jsonPayload(approval, 'https://sluice.example/');
    expect(p).toMatchObject({
      type: 'sluice.approval.pending',
      approval: { id: 'apr_1', subject: 'alice', rule: 'approval', findings: { EMAIL: 1 } },
      console_url: 'https://sluice.example/sluice/console/approvals',
    });
    expect(JSON.stringify(p)).not.toContain('abc');
  });

  it('Slack-compatible payload is one mrkdwn text with a link', () => {
    const p = slackPayload(approval, 'https://sluice.example');
    expect(Object.keys(p)).toEqual(['text']);
    expect(p.text).toContain('*apr_1*');
    expect(p.text).toContain('<https://sluice.example/sluice/console/approvals|Open the Sluice console>');
    expect(slackPayload(approval, undefined).text).not.toContain('<');
  });
});
