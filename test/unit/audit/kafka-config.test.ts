import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../gateway/config.ts';

describe('audit.kafka config', () => {
  it('is off by default and filled with documented defaults when brokers are given', () => {
    expect(resolveConfig({}, {}).audit.kafka).toBeUndefined();
    expect(resolveConfig({ audit: { kafka: { brokers: ['127.0.0.1:9092'] } } }, {}).audit.kafka).toEqual({
      brokers: ['127.0.0.1:9092'],
      clientId: 'sluice',
      topics: { decisions: 'sluice.audit.decisions', sessions: 'sluice.audit.sessions' },
      createTopics: true,
      partitions: 3,
      replicationFactor: 1,
      spool: { maxBytes: 256 * 1024 * 1024, memoryBytes: 16 * 1024 * 1024, fsync: true },
      onSpoolFull: 'fail-closed',
      maxBatchRecords: 500,
      closeTimeoutMs: 5000,
      content: 'masked',
      compression: 'gzip',
      lingerMs: 5,
      format: 'sluice',
    });
  });

  it('takes brokers from SLUICE_KAFKA_BROKERS', () => {
    const config = resolveConfig({}, { SLUICE_KAFKA_BROKERS: 'k1:9092, k2:9092' });
    expect(config.audit.kafka?.brokers).toEqual(['k1:9092', 'k2:9092']);
  });

  it('reports bad values with their dotted keys', () => {
    const bad = () =>
      resolveConfig({ audit: { kafka: { brokers: ['no-port'], onSpoolFull: 'maybe', spool: { maxBytes: 0 } } } }, {});
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/^audit\.kafka\.brokers\.0: host:port$/m);
      expect(problems).toMatch(/^audit\.kafka\.spool\.maxBytes: /m);
      expect(problems).toMatch(/^audit\.kafka\.onSpoolFull: /m);
    }
  });
});
