/** The chain head logged outside the audit log: when it moved, not when idle, and once more at close. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { anchorChainHead } from '../../../gateway/audit/chain-anchor.ts';
import { parseChainHead, verifyChain } from '../../../gateway/cli/audit-verify.ts';

afterEach(() => vi.useRealTimers());

describe('anchorChainHead', () => {
  it('logs INSTANCE:SEQ:HASH each interval the chain moved and at close, and verify accepts what it logged', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const audit = new AuditLog(
      [{ name: 'mem', write: (_e, line) => void lines.push(line), flush: async () => {}, close: async () => {} }],
      'inst-1',
    );
    const logged: string[] = [];
    const anchors = anchorChainHead(
      audit,
      { info: (obj) => logged.push((obj as { audit_chain_head: string }).audit_chain_head) },
      60_000,
    );
    const record = (): void =>
      void audit.record({
        kind: 'access',
        object: 'session',
        session_id: 's',
        state: 'opened',
        timestamp: new Date(0).toISOString(),
        subject: 'alice',
        connection: 'c',
        cause: null,
        actor: null,
      });

    vi.advanceTimersByTime(60_000);
    expect(logged).toEqual([]); // nothing recorded yet: nothing to anchor
    record();
    record();
    vi.advanceTimersByTime(60_000);
    expect(logged).toHaveLength(1);
    expect(parseChainHead(logged[0]!)).toMatchObject({ instanceId: 'inst-1', seq: 2 });
    vi.advanceTimersByTime(120_000);
    expect(logged).toHaveLength(1); // idle: the head did not move
    record();
    anchors.close();
    expect(logged).toHaveLength(2);
    const head = parseChainHead(logged[1]!);
    expect(head.seq).toBe(3);
    const file = lines.map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` }));
    expect(verifyChain(file, [parseChainHead(logged[0]!), head]).problems).toEqual([]);
    expect(verifyChain(file.slice(0, 2), [head]).problems.map((p) => p.kind)).toEqual(['truncated']);
    vi.advanceTimersByTime(120_000);
    expect(logged).toHaveLength(2); // closed: no more lines
  });
});
