/**
 * A full audit disk, for real: the audit file lives on a small tmpfs that the test fills. The
 * gateway must not crash, must refuse calls it cannot record (503, fail closed) and report not
 * ready, and must recover by itself when space returns, with every event of every answered call
 * in the file and the chain intact.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEventBody, SessionRecordBody } from '../../gateway/audit/events.ts';
import { verifyChain } from '../../gateway/audit/verify.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const mountPoint = mkdtempSync(join(tmpdir(), 'sluice-full-disk-'));
/** A real small filesystem needs mount(2): root, as on the development machines and CI. */
function mountTmpfs(): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const mounted = mountTmpfs();
const filler = join(mountPoint, 'filler');

let h: Harness;
beforeAll(async () => {
  if (mounted) h = await startHarness({ auditFile: join(mountPoint, 'audit.jsonl') });
});
afterAll(async () => {
  await h?.close();
  if (mounted) execFileSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

const hello = { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] };

async function call(): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await h.token(['engineering'])}`, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify(hello),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { error?: { message: string } };
  return { status: res.status, code: /SLUICE_ERR_\w+/.exec(body.error?.message ?? '')?.[0] ?? (res.status === 503 ? 'audit' : undefined) };
}

/** Resolves once /readyz answers `status`, polling (bounded) for the gateway's own state change. */
async function readyz(status: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${h.url}/readyz`)).status === status) return;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`/readyz never answered ${status}`);
}

// Skipped only where mount(2) is refused (not root): the file sink's own retry is unit-tested with /dev/full.
describe.skipIf(!mounted)('a full audit disk', () => {
  it('refuses calls with 503 while the file cannot be written, stays up, and recovers when space returns', async () => {
    expect((await call()).status).toBe(200);
    // Fill the filesystem: the filler takes every byte the audit file has not.
    try {
      writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024));
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    const answered: number[] = [];
    // A call whose decision cannot be written is refused before it goes upstream (write-ahead), and
    // once the sink knows the disk is full, every call is refused at the door.
    let refused: { status: number } | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const r = await call();
      if (r.status === 200) answered.push(i);
      else refused = r;
    }
    expect(refused?.status).toBe(503);
    await readyz(503);
    const ready = await (await fetch(`${h.url}/readyz`)).json() as { reason: string };
    expect(ready.reason).toMatch(/cannot be written \(ENOSPC\)/);

    rmSync(filler);
    await readyz(200);
    expect((await call()).status).toBe(200);
    const events = await h.auditEvents();
    const decisions = events.filter((e): e is DecisionEventBody & typeof e => e.kind === 'decision');
    const records = events.filter((e): e is SessionRecordBody & typeof e => e.kind === 'session');
    // The first call, every call answered while the disk filled, and the one after recovery.
    expect(records.filter((r) => r.response?.status === 200)).toHaveLength(1 + answered.length + 1);
    // Nothing lost: every decision written has its exchange record, the refused ones included.
    const recorded = new Set(records.map((r) => r.decision_id));
    expect(decisions.filter((d) => !recorded.has(d.decision_id))).toEqual([]);
    const lines = events.map((e) => JSON.stringify(e));
    expect(verifyChain(lines.map((line, i) => ({ line, stream: 'audit.jsonl', at: `line ${i + 1}` }))).problems).toEqual([]);
  });
});
