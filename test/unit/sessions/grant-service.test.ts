import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import type { Identity } from '../../../gateway/identity/identity.ts';
import { GrantService } from '../../../gateway/access/grant-service.ts';
import type { StateStores } from '../../../gateway/store/open-state.ts';
import { openTestState } from '../../helpers/test-state.ts';
import { testTempDir } from '../../helpers/temp-dirs.ts';

let state: StateStores | undefined;
/** The grant store on a durable PGlite under `dir`; reopening closes the previous one first (a restart). */
async function storeIn(dir: string) {
  await state?.close();
  state = await openTestState(dir);
  return state.grants;
}
afterEach(async () => {
  await state?.close();
  state = undefined;
});

const who = (sub: string, groups: string[]): Identity => ({
  sub,
  iss: 'i',
  clientId: undefined,
  groups,
  scopes: [],
  tokenId: undefined,
  issuedAt: 0,
  expiresAt: 0,
});
const audit = new AuditLog([{ name: 'null', write: () => {}, flush: async () => {}, close: async () => {} }]);

describe('GrantService', () => {
  it('activates on approval for N minutes, then expires; survives a store reopen', async () => {
    let clock = Date.parse('2025-06-01T12:00:00Z');
    const dir = await testTempDir('sluice-grt-');
    const grants = new GrantService(
      await storeIn(dir),
      audit,
      { approverGroups: ['admins'], maxMinutes: 60, connections: ['anthropic', 'secondary', 'tertiary'] },
      () => new Date(clock),
    );
    const g = await grants.request(who('gina', ['engineering']), 'secondary', 10, 'incident');
    expect(await grants.activeFor('gina')).toEqual([]);
    await expect(grants.decide(g.id, who('carol', ['engineering']), 'approve', 'x')).rejects.toMatchObject({
      code: 'SLUICE_ERR_FORBIDDEN',
    });
    await grants.decide(g.id, who('bob', ['admins']), 'approve', 'ok');
    expect(await grants.activeFor('gina')).toEqual(['secondary']);
    const reopened = new GrantService(
      await storeIn(dir),
      audit,
      { approverGroups: ['admins'], maxMinutes: 60, connections: ['anthropic', 'secondary', 'tertiary'] },
      () => new Date(clock),
    );
    expect(await reopened.activeFor('gina')).toEqual(['secondary']);
    clock += 10 * 60_000;
    expect(await reopened.activeFor('gina')).toEqual([]);
    expect((await reopened.get(g.id))!.state).toBe('expired');
    await expect(reopened.request(who('gina', []), 'secondary', 61, 'too long')).rejects.toMatchObject({
      code: 'SLUICE_ERR_BAD_REQUEST',
    });
  });

  it('forgets ended grants last touched before the cut-off; active ones stay, in memory and on disk', async () => {
    let clock = Date.parse('2025-06-01T12:00:00Z');
    const dir = await testTempDir('sluice-grt-');
    const grants = new GrantService(
      await storeIn(dir),
      audit,
      { approverGroups: ['admins'], maxMinutes: 60, connections: ['anthropic', 'secondary', 'tertiary'] },
      () => new Date(clock),
    );
    const denied = await grants.request(who('gina', []), 'secondary', 10, 'x');
    await grants.decide(denied.id, who('bob', ['admins']), 'deny', 'no');
    const active = await grants.request(who('gina', []), 'anthropic', 60, 'y');
    await grants.decide(active.id, who('bob', ['admins']), 'approve', 'ok');
    clock += 30 * 60_000;
    expect(await grants.pruneFinished(new Date(clock))).toBe(1);
    expect(await grants.get(denied.id)).toBeUndefined();
    expect(await grants.activeFor('gina')).toEqual(['anthropic']);
    const reopened = new GrantService(
      await storeIn(dir),
      audit,
      { approverGroups: ['admins'], maxMinutes: 60, connections: ['anthropic', 'secondary', 'tertiary'] },
      () => new Date(clock),
    );
    expect(await reopened.get(denied.id)).toBeUndefined();
    expect((await reopened.get(active.id))?.state).toBe('approved');
  });

  it("answers activeFor from the subject's own grants only, through grants, reopen and prune", async () => {
    const clock = Date.parse('2025-06-01T12:00:00Z');
    const dir = await testTempDir('sluice-grt-');
    const store = await storeIn(dir);
    const grants = new GrantService(
      store,
      audit,
      { approverGroups: ['admins'], maxMinutes: 60, connections: ['anthropic', 'secondary', 'tertiary'] },
      () => new Date(clock),
    );
    const approve = async (sub: string, connection: string) =>
      grants.decide(
        (await grants.request(who(sub, []), connection, 10, 'x')).id,
        who('bob', ['admins']),
        'approve',
        'ok',
      );
    await approve('gina', 'anthropic');
    await approve('hank', 'secondary');
    const denied = await grants.request(who('gina', []), 'tertiary', 10, 'x');
    await grants.decide(denied.id, who('bob', ['admins']), 'deny', 'no');
    expect((await store.listFor('gina')).map((g) => g.connection).sort()).toEqual(['anthropic', 'tertiary']);
    expect(await grants.activeFor('hank')).toEqual(['secondary']);
    expect(await store.listFor('nobody')).toEqual([]);
    const reopened = await storeIn(dir);
    expect((await reopened.listFor('gina')).map((g) => g.connection).sort()).toEqual(['anthropic', 'tertiary']);
    await reopened.pruneEnded(new Date(clock + 60_000));
    expect((await reopened.listFor('gina')).map((g) => g.connection)).toEqual(['anthropic']);
  });
});
