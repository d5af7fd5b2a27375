import { createHash } from 'node:crypto';
import { CHAIN_GENESIS, formatChainHead, type ChainHead } from '../audit/audit-log.ts';

/** One audit line as read, with the ordered stream it came from (the file, or a topic partition). */
export interface ReadLine {
  readonly line: string;
  /** Ordered source: "audit.jsonl", "sluice.audit.decisions/2"; order is only checked within one. */
  readonly stream: string;
  /** Position for messages: "line 12", "offset 40". */
  readonly at: string;
}

/** A problem `sluice audit verify` reports. */
export interface ChainProblem {
  readonly kind: 'unparseable' | 'edit' | 'gap' | 'reorder' | 'duplicate-seq' | 'truncated';
  readonly message: string;
}

/** What a verification found: `problems` empty means every chain is intact. */
export interface VerifyReport {
  readonly events: number;
  /** Exact re-deliveries of an event (same event_id, same bytes): normal after a Kafka retry. */
  readonly duplicates: number;
  /** Per instance; `head` (`INSTANCE:SEQ:HASH` of its last event) is what `--head` takes on a later run. */
  readonly instances: ReadonlyArray<{
    instance_id: string;
    first_seq: number;
    last_seq: number;
    events: number;
    head: string;
  }>;
  readonly problems: readonly ChainProblem[];
  /** Torn last lines the gateway moved aside at start (`audit_recovery` events): not a chain problem, shown. */
  readonly recoveries: ReadonlyArray<{
    readonly where: string;
    readonly torn_bytes: number;
    readonly moved_to: string;
    readonly reason?: string;
  }>;
  /**
   * Decisions with no exchange record: calls in flight when an instance stopped (a crash, kill -9).
   * The decision was written before the call went upstream; the record of how it ended never was.
   */
  readonly incomplete: readonly string[];
}

interface Parsed {
  readonly line: string;
  readonly hash: string;
  readonly seq: number;
  readonly prev: string;
  readonly instance: string;
  readonly where: string;
}

const sha256 = (line: string) => createHash('sha256').update(line).digest('hex');

/**
 * Checks AuditLog's tamper evidence: each instance's events carry seq 1, 2, 3… and the sha256 of
 * the previous event's exact line (the first one CHAIN_GENESIS). Reports gaps (missing seq),
 * reordering (seq going back within one ordered stream), edits (a line whose hash no longer
 * matches its successor's prev_hash, or an event_id seen with two contents) and lines that do
 * not parse. Exact duplicates are counted, not reported: Kafka delivery is at-least-once.
 * An edit of the very last event of a chain has no successor to reveal it, nor does the removal of
 * the last events: `anchors`, chain heads recorded elsewhere (the gateway logs them, see
 * chain-anchor.ts), each require their event to be present with exactly that hash.
 */
export function verifyChain(lines: Iterable<ReadLine>, anchors: readonly ChainHead[] = []): VerifyReport {
  const problems: ChainProblem[] = [];
  const byId = new Map<string, string>();
  const lastInStream = new Map<string, number>();
  const perInstance = new Map<string, Parsed[]>();
  let duplicates = 0;
  let events = 0;
  const decided = new Set<string>();
  const ended = new Set<string>();
  const recoveries: Array<VerifyReport['recoveries'][number]> = [];
  for (const { line, stream, at } of lines) {
    const where = `${stream} ${at}`;
    let e: {
      event_id?: unknown;
      seq?: unknown;
      prev_hash?: unknown;
      instance_id?: unknown;
      kind?: unknown;
      content?: unknown;
      decision_id?: unknown;
      batch_decision_id?: unknown;
    } & Partial<Recovery>;
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      problems.push({ kind: 'unparseable', message: `${where}: not JSON` });
      continue;
    }
    if (
      typeof e.event_id !== 'string' ||
      typeof e.seq !== 'number' ||
      typeof e.prev_hash !== 'string' ||
      typeof e.instance_id !== 'string'
    ) {
      problems.push({ kind: 'unparseable', message: `${where}: missing event_id, seq, prev_hash or instance_id` });
      continue;
    }
    const hash = sha256(line);
    // Schema 2: each content setting (masked, digest, none) is a chain of its own, the same event
    // in each; schema 1 had one chain, its events no content field.
    const chainId = e.content === undefined || e.content === 'masked' ? e.instance_id : `${e.instance_id}/${e.content}`;
    const eventKey = `${e.event_id}\u0000${chainId}`;
    const seen = byId.get(eventKey);
    if (seen !== undefined) {
      if (seen === hash) duplicates++;
      else
        problems.push({
          kind: 'edit',
          message: `${where}: event ${e.event_id} (seq ${e.seq}) appears with different content`,
        });
      continue;
    }
    byId.set(eventKey, hash);
    events++;
    if (typeof e.decision_id === 'string') {
      // A batch request's decision ends with its batch call, whose own decision event is counted.
      if (e.kind === 'decision' && e.batch_decision_id === undefined) decided.add(e.decision_id);
      else if (e.kind === 'exchange' || e.kind === 'session') ended.add(e.decision_id); // session: schema 1
    }
    if (e.kind === 'audit_recovery') {
      const reason = typeof e.reason === 'string' ? { reason: e.reason } : {};
      recoveries.push({ where, torn_bytes: Number(e.torn_bytes), moved_to: String(e.moved_to), ...reason });
    }
    const streamKey = `${stream}\u0000${chainId}`;
    const last = lastInStream.get(streamKey);
    if (last !== undefined && e.seq < last)
      problems.push({
        kind: 'reorder',
        message: `${where}: seq ${e.seq} of instance ${e.instance_id} comes after seq ${last}`,
      });
    lastInStream.set(streamKey, Math.max(last ?? 0, e.seq));
    const list = perInstance.get(chainId) ?? perInstance.set(chainId, []).get(chainId)!;
    list.push({ line, hash, seq: e.seq, prev: e.prev_hash, instance: chainId, where });
  }
  const instances = [...perInstance].map(([instance_id, list]) => {
    list.sort((a, b) => a.seq - b.seq);
    checkInstance(list, problems);
    const last = list.at(-1)!;
    return {
      instance_id,
      first_seq: list[0]!.seq,
      last_seq: last.seq,
      events: list.length,
      head: formatChainHead({ instanceId: instance_id, seq: last.seq, hash: last.hash }),
    };
  });
  for (const anchor of anchors) checkAnchor(anchor, perInstance.get(anchor.instanceId) ?? [], problems);
  const incomplete = [...decided].filter((id) => !ended.has(id));
  return { events, duplicates, instances, problems, recoveries, incomplete };
}

interface Recovery {
  readonly torn_bytes: number;
  readonly moved_to: string;
  readonly reason?: unknown;
}

function checkInstance(list: readonly Parsed[], problems: ChainProblem[]): void {
  let prev: Parsed | undefined;
  for (const cur of list) {
    const id = `instance ${cur.instance}`;
    if (!prev) {
      if (cur.seq !== 1)
        problems.push({
          kind: 'gap',
          message: `${id}: events 1..${cur.seq - 1} missing (chain starts at seq ${cur.seq}, ${cur.where})`,
        });
      else if (cur.prev !== CHAIN_GENESIS)
        problems.push({ kind: 'edit', message: `${cur.where}: seq 1 of ${id} does not start from the genesis hash` });
    } else if (cur.seq === prev.seq) {
      problems.push({
        kind: 'duplicate-seq',
        message: `${cur.where}: two different events with seq ${cur.seq} in ${id}`,
      });
      continue;
    } else if (cur.seq > prev.seq + 1) {
      const missing = cur.seq - prev.seq === 2 ? `${prev.seq + 1}` : `${prev.seq + 1}..${cur.seq - 1}`;
      problems.push({ kind: 'gap', message: `${id}: seq ${missing} missing (between ${prev.where} and ${cur.where})` });
    } else if (cur.prev !== prev.hash) {
      problems.push({
        kind: 'edit',
        message: `${cur.where}: prev_hash does not match seq ${prev.seq} (${prev.where}): that event was altered`,
      });
    }
    prev = cur;
  }
}

/**
 * A recorded head: its event must still be there, with the same hash (its predecessors are then covered by the chain).
 */
function checkAnchor(anchor: ChainHead, list: readonly Parsed[], problems: ChainProblem[]): void {
  const id = `instance ${anchor.instanceId}`;
  const event = list.find((e) => e.seq === anchor.seq);
  if (!event) {
    const end = list.length === 0 ? 'has no events here' : `ends at seq ${list.at(-1)!.seq}`;
    problems.push({
      kind: 'truncated',
      message: `${id}: the recorded head is seq ${anchor.seq}, but the chain ${end}: events were removed`,
    });
  } else if (event.hash !== anchor.hash) {
    problems.push({
      kind: 'edit',
      message: `${event.where}: seq ${anchor.seq} of ${id} differs from its recorded head: that event was altered`,
    });
  }
}

/** Parses `INSTANCE:SEQ:HASH` (as logged by the gateway and printed by verify); throws on anything else. */
export function parseChainHead(text: string): ChainHead {
  const m = /^([^:\s]+):(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!m)
    throw new Error(`--head "${text}" is not INSTANCE:SEQ:SHA256 (as in the gateway's "audit chain head" log lines)`);
  return { instanceId: m[1]!, seq: Number(m[2]), hash: m[3]! };
}

/** Human-readable summary, one problem a line (at most `limit`). */
export function formatReport(report: VerifyReport, limit = 50): string {
  const head =
    `${report.events} events from ${report.instances.length} instance(s)` +
    (report.duplicates ? `, ${report.duplicates} exact duplicate(s) ignored` : '');
  const chains = report.instances.map(
    (i) => `  instance ${i.instance_id}: seq ${i.first_seq}..${i.last_seq} (${i.events} events), head ${i.head}`,
  );
  const recovered = report.recoveries.map((r) => {
    const why = r.reason ? ` (${r.reason})` : '';
    return `  recovered: ${r.where}: a torn last line of ${r.torn_bytes} bytes was moved to ${r.moved_to}${why}`;
  });
  const shownIds = report.incomplete.slice(0, limit).join(', ');
  const incomplete =
    report.incomplete.length === 0
      ? []
      : [
          `  incomplete: ${report.incomplete.length} decision(s) without an exchange record` +
            ` (calls in flight when an instance stopped): ${shownIds}` +
            (report.incomplete.length > limit ? ', …' : ''),
        ];
  const notes = [...recovered, ...incomplete];
  if (report.problems.length === 0) return [`OK: ${head}; every chain intact`, ...notes, ...chains].join('\n') + '\n';
  const shown = report.problems.slice(0, limit).map((p) => `  ${p.kind}: ${p.message}`);
  const more = report.problems.length > limit ? [`  … and ${report.problems.length - limit} more`] : [];
  return (
    [`FAILED: ${report.problems.length} problem(s) in ${head}`, ...shown, ...more, ...notes, ...chains].join('\n') +
    '\n'
  );
}
