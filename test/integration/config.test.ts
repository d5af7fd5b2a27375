/**
 * Config checks that need a real gateway start (and so the policy bundle globalSetup builds);
 * the pure schema tests are in test/unit/config.test.ts.
 */
import { rmSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { resolveConfig, type SluiceConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/start.ts';
import { testTempDirSync } from '../helpers/temp-dirs.ts';

describe('config', () => {
  it('startGateway refuses the dev issuer beyond loopback even for a config not built by resolveConfig', async () => {
    const dir = testTempDirSync('sluice-config-');
    const env = { ANTHROPIC_API_KEY: 'sk-unused' };
    const raw = {
      listen: { port: 0 },
      stateDir: dir,
      log: { level: 'silent' },
      audit: { anchorIntervalSeconds: 0 },
      policy: { bundle: inject('policyBundle'), buildIfMissing: false },
    };
    const valid = resolveConfig(raw, env);
    const exposed = { ...valid, listen: { ...valid.listen, host: '0.0.0.0' } } as SluiceConfig;
    // A gateway that started is the failure: stop it and say so.
    const started = await startGateway(exposed, env).then(
      async (gateway) => gateway.close().then(() => 'started'),
      (err: unknown) => err,
    );
    expect(started).toMatchObject({ name: 'ConfigError', issues: [{ code: 'SLUICE_ERR_CONFIG_NO_ISSUER' }] });
    rmSync(dir, { recursive: true, force: true });
  });
});
