import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../gateway/config.ts';
import { isBundleUrl } from '../../../gateway/policy/load-policy.ts';

describe('policy configuration', () => {
  it('defaults to OPA polling delays, watching, no key', () => {
    const { policy } = resolveConfig({}, {});
    expect(policy).toMatchObject({ watch: true, polling: { minDelaySeconds: 60, maxDelaySeconds: 120 } });
    expect(policy.publicKey).toBeUndefined();
    expect(policy.longPollingTimeoutSeconds).toBeUndefined();
  });

  it('takes a bundle URL, a public key (also from SLUICE_POLICY_PUBLIC_KEY) and long polling', () => {
    const { policy } = resolveConfig(
      {
        policy: {
          bundle: 'https://bundles.example/sluice.tar.gz',
          longPollingTimeoutSeconds: 30,
          polling: { minDelaySeconds: 5, maxDelaySeconds: 10 },
        },
      },
      { SLUICE_POLICY_PUBLIC_KEY: '/etc/sluice/bundle.pub.pem' },
    );
    expect(policy).toMatchObject({
      bundle: 'https://bundles.example/sluice.tar.gz',
      publicKey: '/etc/sluice/bundle.pub.pem',
      longPollingTimeoutSeconds: 30,
    });
    expect(isBundleUrl(policy.bundle)).toBe(true);
    expect(isBundleUrl('bundles/build/sluice.tar.gz')).toBe(false);
  });

  it('reports inverted delays and unsupported URL schemes with their keys', () => {
    try {
      resolveConfig(
        { policy: { bundle: 'ftp://x/b.tar.gz', polling: { minDelaySeconds: 10, maxDelaySeconds: 5 } } },
        {},
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        'policy.polling.maxDelaySeconds: 5 is below policy.polling.minDelaySeconds (10)',
        'policy.bundle: "ftp://x/b.tar.gz" is neither a file path nor an http(s) URL',
      ]);
    }
    expect(() => resolveConfig({ policy: { longPollingTimeoutSeconds: 0 } }, {})).toThrow(
      /policy\.longPollingTimeoutSeconds/,
    );
  });
});
