/**
 * `audit.durability: strict`: a caller that has an answer's last byte has its exchange record
 * written, and a record that cannot be written costs the caller the answer's end (fail closed).
 * `relaxed` (the default) records the call as it ends, after the answer went out.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDraft } from '../../gateway/audit/event-content.ts';
import { startHarness, type Harness } from '../helpers/gateway-harness.ts';

const prompt = 'Reach me at kim.lee@example.com about the audit.';
const body = (stream: boolean) =>
  JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 64, stream, messages: [{ role: 'user', content: prompt }] });

async function call(h: Harness, stream: boolean): Promise<{ status: number; text: string }> {
  const res = await fetch(`${h.url}/v1/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token(['engineering'], 'durable')}`,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: body(stream),
  });
  return { status: res.status, text: await res.text() };
}

/** The exchange records in the audit file right now, read without flushing anything. */
function exchangesOnDisk(h: Harness): number {
  return readFileSync(h.auditFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"kind":"exchange"')).length;
}

/**
 * Once armed, the audit's next wait for written events after an exchange record was queued fails,
 * as a disk that fills between a call's decision and its end would: the wait for the record sees
 * it, not the call's decision (written before the record is queued). `exchanges()` counts the
 * records queued so far.
 */
function failRecordWrites(h: Harness): { arm(): void; exchanges(): number } {
  const audit = h.gateway.audit;
  const record = audit.record.bind(audit);
  const written = audit.written.bind(audit);
  let armed = false;
  let exchangeQueued = false;
  let exchanges = 0;
  audit.record = (draft: AuditDraft) => {
    if (draft.kind === 'exchange') {
      exchangeQueued = true;
      exchanges++;
    }
    record(draft);
  };
  audit.written = async () => {
    await written();
    if (armed && exchangeQueued) {
      armed = false;
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    }
  };
  return {
    arm: () => {
      armed = true;
      exchangeQueued = false;
    },
    exchanges: () => exchanges,
  };
}

describe('audit durability strict', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auditDurability: 'strict' });
  });
  afterAll(async () => h?.close());

  it('has the record in the file by the time a JSON answer or a stream has ended', async () => {
    for (const stream of [false, true]) {
      const before = exchangesOnDisk(h);
      const answer = await call(h, stream);
      expect(answer.status).toBe(200);
      if (stream) expect(answer.text).toContain('event: message_stop');
      expect(exchangesOnDisk(h)).toBe(before + 1);
    }
  });

  it('refuses a JSON answer whose record cannot be written, and ends a stream without message_stop', async () => {
    const disk = failRecordWrites(h);
    disk.arm();
    const json = await call(h, false);
    expect(json.status).toBe(503);
    expect(JSON.parse(json.text)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(JSON.parse(json.text).error.message).toMatch(/audit trail unavailable.*record could not be written/);
    disk.arm();
    const streamed = await call(h, true);
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('event: content_block_delta');
    expect(streamed.text).not.toContain('event: message_stop');
    expect(streamed.text).toMatch(/event: error\ndata: .*could not be written/);
  });
});

describe('audit durability relaxed (default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('answers in full even when the record cannot be written at once: it is recorded as the call ends', async () => {
    const disk = failRecordWrites(h);
    disk.arm();
    const json = await call(h, false);
    expect(json.status).toBe(200);
    // Recorded once the answer went out; the stream's own decision must not meet the failure.
    await expect.poll(() => disk.exchanges()).toBe(1);
    disk.arm();
    const streamed = await call(h, true);
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('event: message_stop');
  });
});
