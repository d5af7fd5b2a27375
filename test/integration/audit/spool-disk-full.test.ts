/**
 * The Kafka sink's spool on a full disk, for real (a 256 KiB tmpfs the test fills; no broker
 * needed): a failed segment write must not crash the gateway (it was an unhandled rejection),
 * must not wedge the spool, and must not leave part of a batch in a segment. With
 * `onSpoolFull: fail-closed` calls are refused (503) and /readyz is 503 until the disk takes the
 * spool's writes again, then everything is spooled, in order, once.
 */
import { rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spoolRecordOf } from '../../../gateway/audit/spool-segments.ts';
import { Spool } from '../../../gateway/audit/spool.ts';
import { startHarness, type Harness } from '../../helpers/gateway-harness.ts';
import { smallDisk } from '../../helpers/small-disk.ts';
import { freePort } from './kafka-broker.ts';

const disk = smallDisk('sluice-spool-disk-', '256k');
let h: Harness | undefined;
let spool: Spool | undefined;

afterEach(async () => {
  await h?.close();
  await spool?.close();
  h = undefined;
  spool = undefined;
  disk.free();
  if (disk.mounted)
    for (const f of await readdir(disk.mountPoint)) rmSync(join(disk.mountPoint, f), { recursive: true, force: true });
});
afterAll(() => disk.remove());

/** A record of a few hundred bytes: one batch of 40 is larger than what a page has left. */
function record(n: number) {
  const event = { kind: 'decision', subject: `user-${n % 3}`, timestamp: new Date().toISOString() } as const;
  return spoolRecordOf(event, JSON.stringify({ ...event, n, pad: 'x'.repeat(300) }), Date.now());
}

// Skipped only where mount(2) is refused (not root).
describe.skipIf(!disk.mounted)('the Kafka spool on a full disk', () => {
  it('retries a failed write without an unhandled rejection, cuts a partial batch, and keeps order', async () => {
    const dir = join(disk.mountPoint, 'spool');
    spool = await Spool.open({ dir, maxBytes: 1 << 20, fsync: false });
    const lines: string[] = [];
    const append = (n: number) => {
      const rec = record(n);
      lines.push(rec.line);
      spool!.append(rec);
    };
    for (let n = 0; n < 3; n++) append(n);
    await spool.persisted();
    disk.fill();
    // One batch, larger than the rest of the segment's page: part of it is written, then ENOSPC.
    for (let n = 3; n < 43; n++) append(n);
    await expect.poll(() => spool!.stats().writeError, { timeout: 5000 }).toBe('ENOSPC');
    append(43); // appended while failing: written after the others

    disk.free();
    await spool.persisted();
    expect(spool.stats().writeError).toBeUndefined();
    await spool.close();
    // Every line once, whole, in order: the partial batch was cut before it was written again.
    const segments = (await readdir(dir)).filter((f) => f.startsWith('segment-'));
    const text = (await Promise.all(segments.sort().map((f) => readFile(join(dir, f), 'utf8')))).join('');
    expect(text).toBe(lines.map((l) => `${l}\n`).join(''));
    spool = await Spool.open({ dir, maxBytes: 1 << 20 });
    await spool.ready();
    expect(spool.peek(100).map((r) => r.line)).toEqual(lines);
  });

  it('fail-closed: the gateway refuses calls and is not ready while the spool cannot be written', async () => {
    const brokers = [`127.0.0.1:${await freePort()}`]; // refuses connections: delivery never empties the spool
    const spoolConfig = { dir: join(disk.mountPoint, 'spool'), maxBytes: 1 << 20 };
    const auditKafka = { brokers, spool: spoolConfig, onSpoolFull: 'fail-closed', closeTimeoutMs: 0 };
    h = await startHarness({ auditKafka });
    const call = async () =>
      fetch(`${h!.url}/v1/messages`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await h!.token(['engineering'])}`,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'x' }] }),
      });
    expect((await call()).status).toBe(200);
    disk.fill();
    // The next calls' events fail to reach the spool's disk; from then on calls are refused.
    let refused: Response | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const res = await call();
      if (res.status !== 200) refused = res;
    }
    expect(refused?.status).toBe(503);
    const body = (await refused!.json()) as { error: { type: string; message: string } };
    const message = expect.stringMatching(/audit spool cannot be written \(ENOSPC\)/);
    expect(body.error).toMatchObject({ type: 'api_error', message });
    expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
    expect(await (await fetch(`${h.url}/metrics`)).text()).toMatch(/^sluice_audit_kafka_spool_write_failing 1$/m);

    disk.free();
    await expect.poll(async () => (await fetch(`${h!.url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    expect((await call()).status).toBe(200);
    // Every event of the file is in the spool too (nothing was delivered: the broker is unreachable).
    const events = await h.auditEvents();
    const depth = async () => {
      const text = await (await fetch(`${h!.url}/metrics`)).text();
      return Number(/^sluice_audit_kafka_spool_depth_records (\d+)$/m.exec(text)?.[1]);
    };
    await expect.poll(depth).toBe(events.length);
  });
});
