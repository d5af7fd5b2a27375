import type { AccessGrant } from '../access/grant-store.ts';
import { csrfField, esc } from './html.ts';

/** What the grants page shows; `mayDecide` is the grant service's own rule, passed through. */
export interface GrantsView {
  readonly grants: readonly AccessGrant[];
  readonly mayDecide: (g: AccessGrant) => boolean;
  /** Configured connection names, offered in the request form. */
  readonly connections: readonly string[];
  readonly csrf: string;
  readonly notice?: string | undefined;
}

const BASE = '/sluice/console/grants';

/** The form to request a grant for oneself: connection, minutes, reason (limits checked by the service). */
function requestForm(connections: readonly string[], csrf: string): string {
  const options = connections.map((c) => `<option value="${esc(c)}">${esc(c)}</option>`).join('');
  return `<form method="post" action="${BASE}" class="card" id="request-grant">${csrfField(csrf)}
<label>Connection <select name="connection" required>${options}</select></label>
<label>Minutes <input type="number" name="duration_minutes" min="1" step="1" required value="60"></label>
<label>Reason <textarea name="reason" required maxlength="2000" rows="2"></textarea></label>
<button>Request grant</button></form>`;
}

/** One requested grant as a card: who, where, how long, why, and the decide form when allowed. */
function pendingCard(g: AccessGrant, canDecide: boolean, csrf: string): string {
  const form = canDecide
    ? `<form method="post" action="${BASE}/${esc(g.id)}/decide">${csrfField(csrf)}
<label>Comment <textarea name="comment" required maxlength="2000" rows="2"></textarea></label>
<button name="verdict" value="approve">Approve</button><button name="verdict" value="deny">Deny</button></form>`
    : '<p class="muted">You cannot decide this one (your own request, or not in an approver group).</p>';
  return `<div class="card grant" id="${esc(g.id)}" data-state="${esc(g.state)}">
<h3>${esc(g.id)} <span class="muted">${esc(g.state)}</span></h3>
<table><tr><th>Requester</th><td>${esc(g.subject)}</td></tr>
<tr><th>Connection</th><td>${esc(g.connection)} for ${esc(g.durationMinutes)} min</td></tr>
<tr><th>Why</th><td>${esc(g.reason)}</td></tr><tr><th>Approvers</th><td>${esc(g.approverGroups.join(', '))}</td></tr>
<tr><th>Requested</th><td>${esc(g.requestedAt)}</td></tr></table>${form}</div>`;
}

/** A decided grant as a table row; active ones carry a revoke form (the service says who may). */
function grantRow(g: AccessGrant, csrf: string): string {
  const revoke =
    g.state === 'approved'
      ? `<form method="post" action="${BASE}/${esc(g.id)}/revoke">${csrfField(csrf)}<button>Revoke</button></form>`
      : '';
  return [
    `<tr class="grant" id="${esc(g.id)}" data-state="${esc(g.state)}">`,
    `<td>${esc(g.id)}</td><td>${esc(g.subject)}</td><td>${esc(g.connection)}</td>\n`,
    `<td>${esc(g.state)}</td><td>${esc(g.reason)}</td><td>${esc(g.decidedBy ?? '')}</td>`,
    `<td>${esc(g.comment ?? '')}</td><td>${esc(g.expiresAt ?? '')}</td><td>${revoke}</td></tr>`,
  ].join('');
}

/** The grants page: request form, requested grants (decide forms where allowed), then the rest. */
export function grantsPage(view: GrantsView): string {
  const pending = view.grants.filter((g) => g.state === 'requested');
  const decided = view.grants.filter((g) => g.state !== 'requested').slice(0, 50);
  const banner = view.notice ? `<p class="notice">${esc(view.notice)}</p>` : '';
  const list =
    pending.length === 0
      ? '<p class="muted" id="no-pending-grants">No requested grants.</p>'
      : pending.map((g) => pendingCard(g, view.mayDecide(g), view.csrf)).join('');
  const rows = decided.map((g) => grantRow(g, view.csrf)).join('');
  return [
    `${banner}<h2>Request access</h2>${requestForm(view.connections, view.csrf)}`,
    `<h2>Requested</h2>${list}<h2>Decided</h2>\n`,
    '<table><tr><th>Grant</th><th>Requester</th><th>Connection</th><th>State</th><th>Reason</th>',
    `<th>Decided by</th><th>Comment</th><th>Expires</th><th></th></tr>${rows}</table>`,
  ].join('');
}
