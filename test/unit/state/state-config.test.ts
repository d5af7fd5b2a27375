/** `state`: the embedded database by default, a PostgreSQL server with state.postgres; state.kafka is refused. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../gateway/config.ts';
import { openState, postgresSettings } from '../../../gateway/store/open-state.ts';

describe('state config', () => {
  it('uses the embedded database by default, failing closed when it is unreachable', () => {
    const { state } = resolveConfig({}, {});
    expect(state.postgres).toBeUndefined();
    expect(state.unavailableGraceSeconds).toBe(0);
    expect(postgresSettings(resolveConfig({}, {}), {})).toBeUndefined();
  });

  it('gives the embedded database a small page cache unless told otherwise', async () => {
    // PGlite's own default (128 MB) is resident from the start; the state's working set is a few MB.
    const sharedBuffers = async (raw: object): Promise<string> => {
      const memory = !('stateDir' in raw);
      const state = await openState(resolveConfig(raw, {}), {}, { warn: () => undefined }, { memory });
      try {
        const [row] = await state.db.query<{ shared_buffers: string }>('SHOW shared_buffers');
        return row!.shared_buffers;
      } finally {
        await state.close();
      }
    };
    expect(await sharedBuffers({})).toBe('16MB');
    expect(await sharedBuffers({ state: { embedded: { sharedBuffersMb: 40 } } })).toBe('40MB');
    // A data directory made with one setting and opened again with another takes the new one.
    const stateDir = await mkdtemp(join(tmpdir(), 'sluice-state-'));
    try {
      expect(await sharedBuffers({ stateDir, state: { embedded: { sharedBuffersMb: 24 } } })).toBe('24MB');
      expect(await sharedBuffers({ stateDir })).toBe('16MB');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
    expect(() => resolveConfig({ state: { embedded: { sharedBuffersMb: 0 } } }, {})).toThrow(/sharedBuffersMb/);
  });

  it('refuses state.kafka, naming what replaces it', () => {
    const refuse = () => resolveConfig({ state: { kafka: { brokers: ['k1:9092'] } } }, {});
    expect(refuse).toThrow(ConfigError);
    expect(refuse).toThrow(/state\.kafka: removed[\s\S]*state\.postgres\.url/);
  });

  it('takes the URL from the file, SLUICE_STATE_POSTGRES_URL or urlEnv, and refuses none at all', () => {
    const fromEnv = resolveConfig({}, { SLUICE_STATE_POSTGRES_URL: 'postgres://sluice@10.0.0.5:5432/sluice' });
    expect(postgresSettings(fromEnv, {})).toMatchObject({
      url: 'postgres://sluice@10.0.0.5:5432/sluice',
      poolSize: 10,
    });
    const viaUrlEnv = resolveConfig({ state: { postgres: { urlEnv: 'PG_URL' } } }, {});
    expect(postgresSettings(viaUrlEnv, { PG_URL: 'postgres://u:pw@127.0.0.1/s' })?.url).toBe(
      'postgres://u:pw@127.0.0.1/s',
    );
    expect(() => postgresSettings(viaUrlEnv, {})).toThrow(/urlEnv naming a set environment variable/);
    expect(() => resolveConfig({ state: { postgres: {} } }, {})).toThrow(/state\.postgres: set url, or urlEnv/);
    expect(() => resolveConfig({ state: { postgres: { url: 'mysql://x' } } }, {})).toThrow(/state\.postgres\.url/);
  });

  it('verifies TLS to a remote server by default and skips it only on loopback', () => {
    const tls = (url: string, mode?: string) =>
      postgresSettings(resolveConfig({ state: { postgres: { url, ...(mode ? { tls: { mode } } : {}) } } }, {}), {})!.tls
        .mode;
    expect(tls('postgres://sluice@db.internal:5432/sluice')).toBe('verify-full');
    expect(tls('postgres://sluice@127.0.0.1:5432/sluice')).toBe('disable');
    expect(tls('postgres://sluice@[::1]:5432/sluice')).toBe('disable');
    expect(tls('postgres://sluice@db.internal/sluice', 'require')).toBe('require');
  });
});
