import { describe, expect, it } from 'vitest';
import { createAccessControl } from '../../../gateway/access/create-access.ts';
import { openTestState } from '../../helpers/test-state.ts';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { ConfigError, resolveConfig } from '../../../gateway/config.ts';
import { testTempDir } from '../../helpers/temp-dirs.ts';

const audit = new AuditLog([]);

describe('approvals, sessions and console config', () => {
  it('has safe defaults: 5-minute holds, 15-minute idle sessions, console off', () => {
    const config = resolveConfig({}, {});
    expect(config.approvals).toMatchObject({ holdSeconds: 300, keepAliveSeconds: 15 });
    expect(config.sessions).toMatchObject({
      idleTimeoutSeconds: 900,
      adminGroups: ['admins'],
      grants: { approverGroups: ['admins'], maxMinutes: 480 },
    });
    expect(config.console.enabled).toBe(false);
  });

  it('reports bad values with dotted keys, and a console without an OIDC provider', () => {
    expect(() => resolveConfig({ approvals: { holdSeconds: -1, webhook: { url: 'ftp://x' } } }, {})).toThrow(
      /approvals\.holdSeconds[\s\S]*approvals\.webhook\.url/,
    );
    expect(() => resolveConfig({ console: { enabled: true } }, {})).toThrow(/console\.enabled: .*identity\.issuer/);
    expect(() =>
      resolveConfig({ console: { enabled: true }, identity: { issuer: 'https://idp.example' } }, {}),
    ).not.toThrow();
  });

  it('resolves the webhook URL from urlEnv and refuses a webhook without one', async () => {
    const stateDir = await testTempDir('sluice-cfg-');
    const unset = resolveConfig({ stateDir, approvals: { webhook: { urlEnv: 'SLACK_HOOK', format: 'slack' } } }, {});
    const state = await openTestState();
    expect(() => createAccessControl(unset, audit, {}, state)).toThrow(ConfigError);
    const access = createAccessControl(unset, audit, { SLACK_HOOK: 'https://hooks.example/T000' }, state);
    expect(access.approvals.hold).toEqual({ holdMs: 300_000, keepAliveMs: 15_000 });
    await access.close();
    await state.close();
  });
});
