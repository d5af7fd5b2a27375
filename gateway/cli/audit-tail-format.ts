import type { AuditEvent } from '../audit/events.ts';

/** `sluice audit tail` filters; an event passes when it matches every one given. */
export interface TailFilter {
  readonly subject?: string;
  readonly outcome?: string;
  readonly session?: string;
}

/**
 * Stateful filter: with `outcome`, a session record is shown when its decision was (decision
 * events come first in each instance's chain, so the decision id is known by then).
 */
export function createTailFilter(filter: TailFilter): (e: AuditEvent) => boolean {
  const decisions = new Set<string>();
  return (e) => {
    if (filter.subject !== undefined && e.subject !== filter.subject) return false;
    if (filter.session !== undefined && ('session_id' in e ? e.session_id : null) !== filter.session) return false;
    if (filter.outcome === undefined) return true;
    if (e.kind === 'decision') {
      if (e.outcome !== filter.outcome) return false;
      decisions.add(e.decision_id);
      return true;
    }
    return e.kind === 'exchange' && decisions.has(e.decision_id);
  };
}

const short = (id: string | null | undefined) => (id ? id.slice(0, 8) : '-');

/** One readable line per event: time, kind, the fields a reviewer scans for, ids last. */
export function formatEvent(e: AuditEvent): string {
  const head = `${e.timestamp} ${e.kind.toUpperCase().padEnd(8)}`;
  switch (e.kind) {
    case 'decision': {
      const req = (e.input as { request?: { operation?: string; model?: string } } | null)?.request;
      const why = e.reasons.length > 0 ? ` — ${e.reasons.join('; ')}` : '';
      return (
        `${head} ${e.outcome.padEnd(17)} ${e.subject ?? '(anonymous)'} ${req?.operation ?? '-'} ${req?.model ?? '-'}` +
        ` decision=${short(e.decision_id)} session=${short(e.session_id)}${why}`
      );
    }
    case 'exchange': {
      const usage = (e.response?.usage ?? null) as { input_tokens?: number; output_tokens?: number } | null;
      const tokens = usage ? ` in=${usage.input_tokens ?? '?'} out=${usage.output_tokens ?? '?'}` : '';
      return (
        `${head} ${String(e.response?.status ?? '-').padEnd(17)} ${e.subject ?? '(anonymous)'} ${e.operation}` +
        ` ${e.response?.stream ? 'stream' : 'json'}${tokens} ${e.timings_ms.total ?? '?'}ms` +
        ` decision=${short(e.decision_id)}`
      );
    }
    case 'approval':
      return (
        `${head} ${e.state.padEnd(17)} ${e.subject} by ${e.actor ?? 'gateway'}` +
        ` approval=${short(e.approval_id)} decision=${short(e.decision_id)}`
      );
    case 'access': {
      const who = `${head} ${e.state.padEnd(17)} ${e.subject} ${e.connection}`;
      if (e.object === 'grant') return `${who} grant=${short(e.grant_id)} by ${e.actor ?? 'gateway'}`;
      return `${who} session=${short(e.session_id)}` + (e.cause ? ` cause=${e.cause}` : '');
    }
    default:
      return `${head} ${JSON.stringify(e)}`;
  }
}
