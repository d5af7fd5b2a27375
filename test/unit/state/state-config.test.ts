/** `state.kafka`: off by default (in-process stores), on with brokers from the file or the env. */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../gateway/config.ts';

describe('state.kafka config', () => {
  it('is absent on the embedded default', () => {
    expect(resolveConfig({}, {}).state.kafka).toBeUndefined();
  });

  it('takes brokers from SLUICE_STATE_KAFKA_BROKERS and fills compacted-topic defaults', () => {
    const kafka = resolveConfig({}, { SLUICE_STATE_KAFKA_BROKERS: 'k1:9092, k2:9092' }).state.kafka;
    expect(kafka).toMatchObject({
      brokers: ['k1:9092', 'k2:9092'],
      clientId: 'sluice-state',
      topics: { approvals: 'sluice.state.approvals', sessions: 'sluice.state.sessions', grants: 'sluice.state.grants' },
      createTopics: true,
      startTimeoutMs: 30_000,
    });
  });

  it('reports a bad broker address with its dotted key', () => {
    expect(() => resolveConfig({ state: { kafka: { brokers: ['no-port'] } } }, {})).toThrow(ConfigError);
    expect(() => resolveConfig({ state: { kafka: { brokers: ['no-port'] } } }, {})).toThrow(
      /state\.kafka\.brokers\.0: host:port/,
    );
  });
});
