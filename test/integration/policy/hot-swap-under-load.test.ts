/**
 * A policy swap under load, through the whole gateway: bundles are renamed into place while
 * requests stream in. Every request is decided wholly by one bundle (its answer, its decision
 * event's result and its recorded revision agree), both bundles serve, nothing fails, and a
 * broken bundle deployed mid-load changes nothing. /readyz follows the active revision.
 */
import { EventEmitter, once } from 'node:events';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../../../gateway/audit/events.ts';
import { bundleOf, tempDir } from '../../helpers/policy-fixtures.ts';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';

let h: Harness;
let path: string;
let allowBundle: Buffer;
let denyBundle: Buffer;

beforeAll(async () => {
  allowBundle = await readFile(
    await bundleOf('decision := {"allow": true, "reasons": [], "labels": {"rule": "open"}}', 'rev-open'),
  );
  denyBundle = await readFile(
    await bundleOf(
      'decision := {"allow": false, "reasons": ["closed by rev-closed"], "labels": {"rule": "closed"}}',
      'rev-closed',
    ),
  );
  path = join(await tempDir(), 'sluice.tar.gz');
  await writeFile(path, allowBundle);
  h = await startHarness({ policyBundle: path });
});

afterAll(async () => {
  await h?.close();
});

async function deploy(bytes: Buffer): Promise<void> {
  await writeFile(`${path}.new`, bytes);
  await rename(`${path}.new`, path);
}

async function call(token: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: await res.text() };
}

type Ready = { bundle: { revision: string; failures: number; last_failure?: { message: string } } };

async function readyz(): Promise<Ready> {
  return (await (await fetch(`${h.url}/readyz`)).json()) as Ready;
}

/** Polls /readyz until `what` holds: the endpoint is what is under test, and it has no push form. */
async function waitForReady(what: (r: Ready) => boolean): Promise<Ready> {
  return vi.waitFor(
    async () => {
      const body = await readyz();
      if (!what(body)) throw new Error(`readyz never settled: ${JSON.stringify(body)}`);
      return body;
    },
    { timeout: 10_000, interval: 25 },
  );
}

describe('hot swap under load', () => {
  it('decides every request on exactly one bundle while bundles swap', async () => {
    const token = await h.token(['engineering']);
    const answers: { status: number; body: string }[] = [];
    const answered = new EventEmitter();
    let loading = true;
    // Eight callers keep requests in flight for the whole test.
    const callers = Array.from({ length: 8 }, async () => {
      while (loading) answered.emit('answer', answers.push(await call(token)));
    });
    // Deploy deny → broken → allow twice, each time waiting until the gateway reports it.
    for (let cycle = 0; cycle < 2; cycle++) {
      await deploy(denyBundle);
      await waitForReady((r) => r.bundle.revision === 'rev-closed');
      const { bundle } = await readyz();
      await deploy(Buffer.from('broken deploy'));
      await waitForReady((r) => r.bundle.failures > bundle.failures);
      await deploy(allowBundle);
      await waitForReady((r) => r.bundle.revision === 'rev-open');
      // Let the open bundle decide a round of calls (one per caller) before the next deploy.
      for (const target = answers.length + 8; answers.length < target;) await once(answered, 'answer');
    }
    loading = false;
    await Promise.all(callers);

    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200, 403]));
    const events = (await h.auditEvents()).filter(
      (e): e is Extract<AuditEvent, { kind: 'decision' }> => e.kind === 'decision',
    );
    expect(events).toHaveLength(answers.length);
    const byRevision = { 'rev-open': 0, 'rev-closed': 0 };
    for (const e of events) {
      const revision = e.bundles.sluice!.revision as keyof typeof byRevision;
      const rule = (e.result as { labels: { rule: string } }).labels.rule;
      expect({ revision, rule, outcome: e.outcome }).toEqual(
        revision === 'rev-open'
          ? { revision, rule: 'open', outcome: 'allow' }
          : { revision, rule: 'closed', outcome: 'deny' },
      );
      byRevision[revision]++;
    }
    expect(byRevision['rev-open']).toBeGreaterThan(0);
    expect(byRevision['rev-closed']).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 403).every((a) => a.body.includes('closed by rev-closed'))).toBe(true);
  });

  it('/readyz shows the revision in use and the last refused bundle', async () => {
    await deploy(allowBundle);
    const before = await waitForReady((r) => r.bundle.revision === 'rev-open');
    await deploy(Buffer.from('broken again'));
    const body = await waitForReady((r) => r.bundle.failures > before.bundle.failures);
    expect(body.bundle.last_failure?.message).toMatch(/not a readable \.tar\.gz/);
    expect(body.bundle).toMatchObject({ revision: 'rev-open', source: path });
  });
});
