import { describe, expect, it } from 'vitest';
import { fileSyncOf, spoolSyncs } from '../../../gateway/audit/open-audit.ts';
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
      spool: { maxBytes: 256 * 1024 * 1024, memoryBytes: 16 * 1024 * 1024 },
      onSpoolFull: 'fail-closed',
      maxBatchRecords: 500,
      closeTimeoutMs: 5000,
      content: 'masked',
      compression: 'gzip',
      lingerMs: 5,
      format: 'sluice',
    });
  });

  it('syncs the spool as the audit file is synced, unless spool.fsync says otherwise', () => {
    const syncs = (audit: object) => {
      const config = resolveConfig(
        { audit: { ...audit, kafka: { brokers: ['k:9092'], ...('kafka' in audit ? (audit.kafka as object) : {}) } } },
        {},
      );
      return spoolSyncs(config.audit.kafka!.spool, fileSyncOf(config));
    };
    expect(syncs({})).toBe(false); // audit.file.sync defaults to none
    expect(syncs({ file: { sync: 'every' } })).toBe(true);
    expect(syncs({ file: { sync: 'interval' } })).toBe(true);
    expect(syncs({ file: { fsync: true } })).toBe(true);
    expect(syncs({ kafka: { spool: { fsync: true } } })).toBe(true);
    expect(syncs({ file: { sync: 'every' }, kafka: { spool: { fsync: false } } })).toBe(false);
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
