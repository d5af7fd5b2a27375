import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type { Identity } from '../../../gateway/identity/identity.ts';
import { SessionService } from '../../../gateway/access/session-service.ts';
import { SluiceError } from '../../../gateway/errors.ts';
import type { StateStores } from '../../../gateway/store/open-state.ts';
import { openTestState } from '../../helpers/test-state.ts';
import { testTempDir } from '../../helpers/temp-dirs.ts';

const T0 = Date.parse('2025-06-01T12:00:00Z');
const token = (issuedAtMs: number): Identity => ({
  sub: 'alice',
  iss: 'i',
  clientId: undefined,
  groups: [],
  scopes: [],
  tokenId: undefined,
  issuedAt: Math.floor(issuedAtMs / 1000),
  expiresAt: 0,
});

let clock: number;
let dir: string;
let sessions: SessionService;
let state: StateStores | undefined;
/** Sessions on a durable PGlite under `dir`; opening again closes the previous one first (a restart). */
async function serviceIn(dir: string): Promise<SessionService> {
  await state?.close();
  state = await openTestState(dir);
  return new SessionService(state.sessions, audit, 60, { now: () => new Date(clock) });
}
afterEach(async () => {
  await state?.close();
  state = undefined;
});
const audit = new AuditLog([{ name: 'null', write: () => {}, flush: async () => {}, close: async () => {} }]);
beforeEach(async () => {
  clock = T0;
  dir = await testTempDir('sluice-ses-');
  sessions = await serviceIn(dir);
});

describe('SessionService', () => {
  it('opens one session per subject and connection and reports its facts', async () => {
    const a = await sessions.enter(token(T0), 'anthropic');
    clock += 5000;
    const b = await sessions.enter(token(T0), 'anthropic');
    const other = await sessions.enter(token(T0), 'secondary');
    expect(b.session.id).toBe(a.session.id);
    expect(other.session.id).not.toBe(a.session.id);
    expect(b.facts).toEqual({ id: a.session.id, age_seconds: 5, idle_seconds: 5, requests: 2, grants: [] });
  });

  it('revokes at lastSeen + idle timeout; older tokens get 401, later ones a new session', async () => {
    const first = await sessions.enter(token(T0), 'anthropic');
    await sessions.setIdleTimeout(first.session.id, 10);
    clock += 30_000;
    await expect(sessions.enter(token(T0), 'anthropic')).rejects.toMatchObject({
      code: 'SLUICE_ERR_SESSION_REVOKED',
      status: 401,
    });
    // A token issued at T0+9s predates the revocation (T0+10s); one issued at T0+11s does not.
    await expect(sessions.enter(token(T0 + 9000), 'anthropic')).rejects.toMatchObject({
      code: 'SLUICE_ERR_SESSION_REVOKED',
    });
    const next = await sessions.enter(token(T0 + 11_000), 'anthropic');
    expect(next.session.id).not.toBe(first.session.id);
    expect((await sessions.store.get(first.session.id))!.revokedAt).toBe('2025-06-01T12:00:10.000Z');
  });

  it('keeps revocations across a restart of the store', async () => {
    const s = await sessions.enter(token(T0), 'anthropic');
    await sessions.revoke(s.session.id, 'bob');
    const reopened = await serviceIn(dir);
    await expect(reopened.enter(token(T0), 'anthropic')).rejects.toThrow(/revoked by bob/);
  });

  it('sweeps idle sessions without waiting for a request', async () => {
    await sessions.enter(token(T0), 'anthropic');
    clock += 61_000;
    expect(await sessions.sweep()).toBe(1);
    expect((await sessions.list())[0]).toMatchObject({ state: 'revoked', revokedCause: 'idle' });
  });

  it('forgets sessions revoked before the cut-off, across a restart; later ones stay', async () => {
    const old = await sessions.enter(token(T0), 'anthropic');
    await sessions.revoke(old.session.id, 'bob');
    clock += 3_600_000;
    const recent = await sessions.enter(token(clock), 'secondary');
    await sessions.revoke(recent.session.id, 'bob');
    const active = await sessions.enter(token(clock), 'anthropic');
    expect(await sessions.pruneRevoked(new Date(clock - 60_000))).toBe(1);
    const ids = (await sessions.store.list()).map((s) => s.id).sort();
    expect(ids).toEqual([recent.session.id, active.session.id].sort());
    const reopened = (await serviceIn(dir)).store;
    expect((await reopened.list()).map((s) => s.id).sort()).toEqual(ids);
    expect((await reopened.latest('alice', 'anthropic'))?.id).toBe(active.session.id);
  });

  it('refuses every call while the database is down, unless the caller was seen within the grace period', async () => {
    const store = state!.sessions;
    let down = false;
    const unavailable = () => new SluiceError('SLUICE_ERR_STATE_UNAVAILABLE', 'connection refused');
    // The store as the database being down makes it: every read fails with the coded 503.
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (down && prop !== 'touch') return Promise.reject(unavailable());
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const strict = new SessionService(flaky, audit, 60, { now: () => new Date(clock) });
    const lenient = new SessionService(flaky, audit, 60, { now: () => new Date(clock), unavailableGraceMs: 60_000 });
    await strict.enter(token(T0), 'anthropic');
    const seen = await lenient.enter(token(T0), 'anthropic');
    down = true;
    await expect(strict.enter(token(T0), 'anthropic')).rejects.toMatchObject({
      code: 'SLUICE_ERR_STATE_UNAVAILABLE',
      status: 503,
    });
    expect((await lenient.enter(token(T0), 'anthropic')).session.id).toBe(seen.session.id);
    // Someone the lenient instance never saw is refused all the same.
    await expect(lenient.enter({ ...token(T0), sub: 'zoe' }, 'anthropic')).rejects.toMatchObject({
      code: 'SLUICE_ERR_STATE_UNAVAILABLE',
    });
  });
});
