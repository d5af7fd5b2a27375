import type { Approval } from '../access/approval-store.ts';
import { csrfField, esc } from './html.ts';

/** One approval as a card: who asked, why (reason, rule, findings), the prompt preview, decide form. */
function approvalCard(a: Approval, preview: string | undefined, canDecide: boolean, csrf: string): string {
  const findings =
    Object.entries(a.findings)
      .map(([t, n]) => `${esc(t)} × ${esc(n)}`)
      .join(', ') || 'none';
  const rules = Array.isArray(a.labels.approval_rules) ? a.labels.approval_rules.join(', ') : a.labels.rule;
  const prompt =
    preview === undefined
      ? '<p class="muted">Prompt preview not held by this instance (it is never written to disk).</p>'
      : `<pre class="prompt">${esc(preview)}</pre>`;
  const verdict = a.verdict
    ? `<p>${esc(a.state)} by <strong>${esc(a.verdict.approver)}</strong>` +
      ` at ${esc(a.verdict.at)}: “${esc(a.verdict.comment)}”</p>`
    : '';
  const form = canDecide
    ? `<form method="post" action="/sluice/console/approvals/${esc(a.id)}/decide">${csrfField(csrf)}
<label>Comment <textarea name="comment" required maxlength="2000" rows="2"></textarea></label>
<button name="verdict" value="approve">Approve</button><button name="verdict" value="deny">Deny</button></form>`
    : a.state === 'pending'
      ? '<p class="muted">You cannot decide this one (your own request, or not in an approver group).</p>'
      : '';
  return `<div class="card approval" id="${esc(a.id)}" data-state="${esc(a.state)}">
<h3>${esc(a.id)} <span class="muted">${esc(a.state)}</span></h3>
<table><tr><th>Requester</th><td>${esc(a.subject)} (${esc(a.requesterGroups.join(', '))})</td></tr>
<tr><th>Call</th><td>${esc(a.operation)} on ${esc(a.connection)}${a.model ? `, model ${esc(a.model)}` : ''}</td></tr>
<tr><th>Why</th><td>${esc(a.reason)}</td></tr><tr><th>Rule</th><td>${esc(rules)}</td></tr>
<tr><th>Findings</th><td>${findings}</td></tr><tr><th>Approvers</th><td>${esc(a.approverGroups.join(', '))}</td></tr>
<tr><th>Requested / expires</th><td>${esc(a.createdAt)} / ${esc(a.expiresAt)}</td></tr>
<tr><th>Body sha256</th><td><code>${esc(a.bodySha256)}</code></td></tr></table>
${prompt}${verdict}${form}</div>`;
}

/** The approvals page: pending ones first (with decide forms), then the latest decided ones. */
export function approvalsPage(
  approvals: readonly Approval[],
  previewOf: (id: string) => string | undefined,
  mayDecide: (a: Approval) => boolean,
  csrf: string,
  notice?: string,
): string {
  const pending = approvals.filter((a) => a.state === 'pending');
  const decided = approvals.filter((a) => a.state !== 'pending').slice(0, 20);
  const banner = notice ? `<p class="notice">${esc(notice)}</p>` : '';
  const list =
    pending.length === 0
      ? '<p class="muted" id="no-pending">No pending approvals.</p>'
      : pending.map((a) => approvalCard(a, previewOf(a.id), mayDecide(a), csrf)).join('');
  const rows = decided
    .map((a) =>
      [
        `<tr><td>${esc(a.id)}</td><td>${esc(a.subject)}</td><td>${esc(a.state)}</td>`,
        `<td>${esc(a.verdict?.approver ?? '')}</td><td>${esc(a.verdict?.comment ?? '')}</td></tr>`,
      ].join(''),
    )
    .join('');
  return `${banner}<h2>Pending</h2>${list}<h2>Recently decided</h2>
<table><tr><th>Approval</th><th>Requester</th><th>State</th><th>Approver</th><th>Comment</th></tr>${rows}</table>`;
}
