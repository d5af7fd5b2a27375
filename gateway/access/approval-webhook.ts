import { request } from 'undici';
import type { Approval } from './approval-store.ts';

/** Where and how to announce pending approvals (config `approvals.webhook`, URL resolved). */
export interface WebhookTarget {
  readonly url: string;
  readonly format: 'json' | 'slack';
  readonly timeoutMs: number;
  /** Public base URL of Sluice, for a link to the console. */
  readonly publicUrl: string | undefined;
}

/** The generic JSON payload: the approval without anything a policy input would not hold. */
export function jsonPayload(a: Approval, publicUrl: string | undefined): Record<string, unknown> {
  return {
    type: 'sluice.approval.pending',
    approval: {
      id: a.id,
      subject: a.subject,
      connection: a.connection,
      operation: a.operation,
      model: a.model,
      reason: a.reason,
      rule: a.labels.rule ?? null,
      findings: a.findings,
      approver_groups: a.approverGroups,
      created_at: a.createdAt,
      expires_at: a.expiresAt,
    },
    console_url: publicUrl ? `${publicUrl.replace(/\/$/, '')}/sluice/console/approvals` : null,
  };
}

/** A Slack incoming-webhook payload (`text` with mrkdwn): works for Slack and its look-alikes. */
export function slackPayload(a: Approval, publicUrl: string | undefined): Record<string, unknown> {
  const link = publicUrl ? ` <${publicUrl.replace(/\/$/, '')}/sluice/console/approvals|Open the Sluice console>` : '';
  const model = a.model ? ` (${a.model})` : '';
  return {
    text:
      `:raised_hand: Approval *${a.id}* pending: *${a.subject}* on \`${a.connection}\`${model}: ${a.reason}.` +
      ` Approvers: ${a.approverGroups.join(', ')}. Expires ${a.expiresAt}.${link}`,
  };
}

/**
 * Returns the pending-approval listener that posts to the webhook. Fire and forget: a slow or
 * failing receiver never delays the held request; failures are logged without the URL (it
 * may embed a secret).
 */
export function webhookNotifier(
  target: WebhookTarget,
  log: { warn(obj: object, msg: string): void },
): (a: Approval) => void {
  return (approval) => {
    const body = JSON.stringify(
      target.format === 'slack' ? slackPayload(approval, target.publicUrl) : jsonPayload(approval, target.publicUrl),
    );
    request(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'sluice-approvals' },
      body,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
    })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode >= 300)
          log.warn({ approval_id: approval.id, status: res.statusCode }, 'approval webhook refused the notification');
      })
      .catch((err: unknown) =>
        log.warn({ approval_id: approval.id, err: (err as Error).message }, 'approval webhook unreachable'),
      );
  };
}
