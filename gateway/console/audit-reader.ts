import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DecisionEventBody, ExchangeRecordBody } from '../audit/events.ts';

/** One exchange as the audit log recorded it: its decision event and its session record. */
export interface RecordedExchange {
  readonly decision: DecisionEventBody | undefined;
  readonly record: ExchangeRecordBody | undefined;
}

/**
 * Reads the JSONL audit file line by line (streamed, never loaded whole) and collects the
 * exchanges that `want` selects by decision id or session id. Good enough for a console over the
 * embedded file sink; a SIEM is the place for search across large logs.
 */
export async function readExchanges(
  file: string,
  want: { decisionId?: string; sessionId?: string },
  limit = 200,
): Promise<Map<string, RecordedExchange>> {
  const found = new Map<string, { decision?: DecisionEventBody; record?: ExchangeRecordBody }>();
  const lines = createInterface({
    input: createReadStream(file, { encoding: 'utf8' }).on('error', () => lines.close()),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (!line.includes(want.decisionId ?? want.sessionId ?? '\u0000')) continue;
    let event: DecisionEventBody | ExchangeRecordBody;
    try {
      event = JSON.parse(line) as DecisionEventBody | ExchangeRecordBody;
    } catch {
      continue;
    }
    // A file written before schema 2 holds exchange records as kind `session`.
    if ((event.kind as string) === 'session') event = { ...event, kind: 'exchange' } as ExchangeRecordBody;
    if (event.kind !== 'decision' && event.kind !== 'exchange') continue;
    const matches = want.decisionId ? event.decision_id === want.decisionId : event.session_id === want.sessionId;
    if (!matches) continue;
    const entry = found.get(event.decision_id) ?? {};
    if (event.kind === 'decision') entry.decision = event;
    else entry.record = event;
    found.set(event.decision_id, entry);
    if (found.size > limit) found.delete(found.keys().next().value!);
  }
  return new Map([...found].map(([id, e]) => [id, { decision: e.decision, record: e.record }]));
}
