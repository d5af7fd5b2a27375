import type { JitSession } from '../access/session-store.ts';
import type { RecordedExchange } from './audit-reader.ts';
import { csrfField, esc } from './html.ts';

/** JIT sessions with a revoke form for active ones and a link to each session's exchanges. */
export function sessionsPage(sessions: readonly JitSession[], csrf: string): string {
  const rows = sessions.map((s) => {
    const revoke =
      s.state === 'active'
        ? `<form method="post" action="/sluice/console/sessions/${esc(s.id)}/revoke">` +
          `${csrfField(csrf)}<button>Revoke</button></form>`
        : `${esc(s.revokedCause)}${s.revokedBy ? ` by ${esc(s.revokedBy)}` : ''} at ${esc(s.revokedAt)}`;
    return [
      `<tr><td><a href="/sluice/console/sessions/${esc(s.id)}">${esc(s.id)}</a></td>`,
      `<td>${esc(s.subject)}</td><td>${esc(s.connection)}</td>\n`,
      `<td>${esc(s.state)}</td><td>${esc(s.requests)}</td><td>${esc(s.lastSeenAt)}</td>`,
      `<td>${esc(s.idleTimeoutSeconds)}s</td><td>${revoke}</td></tr>`,
    ].join('');
  });
  return (
    '<table><tr><th>Session</th><th>Subject</th><th>Connection</th><th>State</th><th>Requests</th>' +
    `<th>Last seen</th><th>Idle timeout</th><th></th></tr>${rows.join('')}</table>`
  );
}

/** The exchanges of one session, each linking to its replay. */
export function sessionExchangesPage(exchanges: ReadonlyMap<string, RecordedExchange>): string {
  const rows = [...exchanges].map(([id, e]) =>
    [
      `<tr><td><a href="/sluice/console/replay/${esc(id)}">${esc(id)}</a></td>`,
      `<td>${esc(e.decision?.timestamp ?? e.record?.timestamp)}</td>\n`,
      `<td>${esc(e.record?.operation)}</td><td>${esc(e.decision?.outcome)}</td>`,
      `<td>${esc(e.record?.response?.status)}</td></tr>`,
    ].join(''),
  );
  return rows.length === 0
    ? '<p class="muted">No recorded exchanges for this session in the audit file.</p>'
    : '<table><tr><th>Decision</th><th>Time</th><th>Operation</th><th>Outcome</th><th>Status</th></tr>' +
        `${rows.join('')}</table>`;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return JSON.stringify(content ?? '');
  return content
    .map((b: { type?: string; text?: string; name?: string; input?: unknown }) =>
      b.type === 'text'
        ? (b.text ?? '')
        : `[${b.type}${b.name ? ` ${b.name}` : ''}] ${b.input ? JSON.stringify(b.input) : ''}`,
    )
    .join('\n');
}

/**
 * One recorded exchange rendered as the conversation (the request as forwarded, which the audit
 * already holds masked), the answer, the stream's timing, the decision and the masks applied.
 */
export function replayPage(e: RecordedExchange): string {
  const req = (e.record?.request ?? {}) as {
    system?: unknown;
    messages?: { role: string; content: unknown }[];
    model?: string;
  };
  const system = req.system
    ? `<div class="msg"><strong>system</strong><pre>${esc(textOf(req.system))}</pre></div>`
    : '';
  const turns = (req.messages ?? [])
    .map((m) => `<div class="msg"><strong>${esc(m.role)}</strong><pre>${esc(textOf(m.content))}</pre></div>`)
    .join('');
  const body = e.record?.response?.body as { content?: unknown } | undefined;
  const answer = body
    ? `<div class="msg answer"><strong>assistant</strong><pre>${esc(textOf(body.content))}</pre></div>`
    : '<p class="muted">No answer recorded.</p>';
  const timing = (e.record?.response?.events ?? [])
    .map((ev) => `<tr><td>${esc(ev.at_ms)} ms</td><td>${esc(ev.event)}</td></tr>`)
    .join('');
  const masks =
    (e.decision?.masks_applied ?? [])
      .map((m) => `<li>${esc(m.type)} × ${esc(m.count)} at <code>${esc(m.path)}</code></li>`)
      .join('') || '<li class="muted">none</li>';
  const decision = { reasons: e.decision?.reasons, approval: e.decision?.approval, result: e.decision?.result };
  const streamTiming = timing
    ? `<table><tr><th>at</th><th>event</th></tr>${timing}</table>`
    : '<p class="muted">Not a stream.</p>';
  return (
    `<p>Model ${esc(req.model)} · outcome <strong>${esc(e.decision?.outcome)}</strong>` +
    ` · status ${esc(e.record?.response?.status)} · subject ${esc(e.decision?.subject ?? e.record?.subject)}</p>
<h2>Conversation</h2>${system}${turns}${answer}
<h2>Decision</h2><pre>${esc(JSON.stringify(decision, null, 2))}</pre>
<h2>Masks applied</h2><ul>${masks}</ul>
<h2>Stream timing</h2>${streamTiming}
<h2>Stage timings</h2><pre>${esc(JSON.stringify(e.record?.timings_ms ?? {}, null, 2))}</pre>`
  );
}
