import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { keyPaths, uncheckedNodes } from '../../gateway/config-keys.ts';
import { ConfigError, configSchema, loadConfig, resolveConfig } from '../../gateway/config.ts';
import { testTempDirSync } from '../helpers/temp-dirs.ts';

describe('config', () => {
  it('fills embedded defaults and freezes the result', () => {
    const config = resolveConfig({}, {});
    expect(config.listen.port).toBe(8080);
    expect(config.connections[0]).toMatchObject({
      name: 'anthropic',
      apiKeyEnv: 'ANTHROPIC_API_KEY',
      authHeader: 'x-api-key',
    });
    expect(config.defaultConnection).toBe('anthropic');
    expect(Object.isFrozen(config.identity)).toBe(true);
  });

  it('reports every problem at once with dotted keys', () => {
    try {
      resolveConfig({ listen: { port: 'x' }, connections: [{ name: 'Bad Name', baseUrl: 'ftp://x' }] }, {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toContain('listen.port');
      expect(problems).toContain('connections.0.name');
      expect(problems).toContain('connections.0.baseUrl');
    }
  });

  it('refuses HMAC algorithms without a configured secret, and duplicate connections', () => {
    expect(() => resolveConfig({ identity: { algorithms: ['HS256'] } }, {})).toThrow(/hmacSecretEnv/);
    const dup = {
      connections: [
        { name: 'a', baseUrl: 'http://127.0.0.1:1' },
        { name: 'a', baseUrl: 'http://127.0.0.1:2' },
      ],
    };
    expect(() => resolveConfig(dup, {})).toThrow(/duplicate connection name/);
    expect(() => resolveConfig({ defaultConnection: 'nope' }, {})).toThrow(/defaultConnection/);
  });

  it('applies env overrides over the file', () => {
    const dir = testTempDirSync('sluice-config-');
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, 'listen:\n  port: 9000\nlog:\n  level: warn\n');
    const config = loadConfig(file, { SLUICE_PORT: '9100' });
    expect(config.listen.port).toBe(9100);
    expect(config.log.level).toBe('warn');
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(() => loadConfig('/nonexistent/sluice.yaml', {})).toThrow(/cannot read/);
    const dir = testTempDirSync('sluice-config-');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'listen: [unclosed');
    expect(() => loadConfig(file, {})).toThrow(/not valid YAML/);
  });
});

describe('config: unknown keys and the dev issuer', () => {
  const problemsOf = (raw: unknown): string[] => {
    try {
      resolveConfig(raw, {});
      return [];
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
  };

  it('a key the schema does not declare is refused with its dotted path and the nearest known key', () => {
    expect(problemsOf({ identity: { isuer: 'https://idp.example.com' } })).toEqual([
      'identity.isuer: unknown key (did you mean identity.issuer?)',
    ]);
    const ci = { name: 'ci', issuer: 'https://token.actions.githubusercontent.com', audience: 'sluice' };
    expect(problemsOf({ identity: { issuers: [{ ...ci, claim: ['repository'] }] } })).toEqual([
      'identity.issuers.0.claim: unknown key (did you mean identity.issuers.0.claims?)',
    ]);
    expect(problemsOf({ connections: [{ name: 'a', baseUrl: 'http://127.0.0.1:1', apikeyEnv: 'K' }] })).toEqual([
      'connections.0.apikeyEnv: unknown key (did you mean connections.0.apiKeyEnv?)',
    ]);
    expect(problemsOf({ audit: { kafka: { brokers: ['k:9092'], spool: { fsynk: true } } } })).toEqual([
      'audit.kafka.spool.fsynk: unknown key (did you mean audit.kafka.spool.fsync?)',
    ]);
  });

  it('a key far from every known one lists the keys known at that place', () => {
    const [problem] = problemsOf({ listen: { zzzzzzzz: 1 } });
    expect(problem).toBe('listen.zzzzzzzz: unknown key (known keys here: host, port, trustProxy)');
  });

  it('unknown keys are reported together with invalid values', () => {
    const problems = problemsOf({ lsten: {}, listen: { port: 'x' } });
    expect(problems).toContain('lsten: unknown key (did you mean listen?)');
    expect(problems.some((p) => p.startsWith('listen.port'))).toBe(true);
  });

  it('the embedded dev issuer starts on loopback only, unless asked for explicitly', () => {
    expect(problemsOf({ listen: { host: '127.0.0.1' } })).toEqual([]);
    expect(problemsOf({ listen: { host: '::1' } })).toEqual([]);
    const [problem] = problemsOf({ listen: { host: '0.0.0.0' } });
    expect(problem).toMatch(/^identity\.issuer: not set, and listen\.host 0\.0\.0\.0 is not a loopback address/);
    expect(problemsOf({ listen: { host: '0.0.0.0' }, identity: { issuer: 'https://idp.example.com' } })).toEqual([]);
    expect(problemsOf({ listen: { host: '0.0.0.0' }, identity: { devIssuer: true } })).toEqual([]);
    expect(resolveConfig({ listen: { host: '0.0.0.0' } }, { SLUICE_DEV_ISSUER: 'true' }).identity.devIssuer).toBe(true);
  });
});

describe('config: every problem carries a code', () => {
  const issuesOf = (raw: unknown): ConfigError['issues'] => {
    try {
      resolveConfig(raw, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues;
    }
    return expect.unreachable();
  };

  it('a misspelt issuer on a public address: the typo and the dev issuer refusal, together, each with its code', () => {
    const issues = issuesOf({ listen: { host: '0.0.0.0' }, identity: { isuer: 'https://idp.example.com' } });
    expect(issues.map((i) => i.code)).toEqual(['SLUICE_ERR_CONFIG_UNKNOWN_KEY', 'SLUICE_ERR_CONFIG_NO_ISSUER']);
    expect(issues[1]!.text).toMatch(/Set identity\.issuer to your OIDC provider/);
    try {
      resolveConfig({ listen: { host: '0.0.0.0' }, identity: { isuer: 'https://idp.example.com' } }, {});
    } catch (err) {
      expect((err as ConfigError).code).toBe('SLUICE_ERR_CONFIG_INVALID');
      const typo = '[SLUICE_ERR_CONFIG_UNKNOWN_KEY] identity.isuer: unknown key (did you mean identity.issuer?)';
      expect((err as Error).message).toContain(`\n  ${typo}`);
      expect((err as Error).message).toContain('\n  [SLUICE_ERR_CONFIG_NO_ISSUER] identity.issuer: not set');
    }
  });

  it('a wrong value is SLUICE_ERR_CONFIG_INVALID, reported with the unknown keys', () => {
    const codes = issuesOf({ lsten: {}, listen: { port: 'x' } }).map((i) => i.code);
    expect(codes).toEqual(['SLUICE_ERR_CONFIG_UNKNOWN_KEY', 'SLUICE_ERR_CONFIG_INVALID']);
  });

  it('keys every object inherits are not config keys: refused, never looked up on the prototype', () => {
    const proto = JSON.parse('{"listen":{"__proto__":{"host":"0.0.0.0"}}}') as unknown;
    for (const raw of [{ identity: { constructor: 'x' } }, { toString: 1 }, proto]) {
      const unknownKey = { code: 'SLUICE_ERR_CONFIG_UNKNOWN_KEY', text: expect.stringMatching(/: unknown key/) };
      expect(issuesOf(raw)).toEqual([unknownKey]);
    }
  });

  it('every part of the schema is one the unknown-key walk can look into (no z.record, z.lazy, …)', () => {
    expect(uncheckedNodes(configSchema)).toEqual([]);
  });
});

describe('config: strictness refuses no legitimate key', () => {
  /**
   * The keys docs/configuration.md documents: every table row between its config-keys markers
   * (sectioned tables, one per part of the schema); `a.b` / `.c` and `a.b` / `c` name a.b and a.c.
   */
  function documentedKeys(): string[] {
    const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const begin = page.indexOf('<!-- config-keys:begin -->');
    const end = page.indexOf('<!-- config-keys:end -->');
    expect(begin, 'docs/configuration.md has no config-keys markers').toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(begin);
    const section = page.slice(begin, end);
    return section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((row) => {
        const names = [...row.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
        const parent = names[0]!.slice(0, names[0]!.lastIndexOf('.'));
        const full = (n: string): string =>
          n.includes('.') && !n.startsWith('.') ? n : `${parent}.${n.replace(/^\./, '')}`;
        return names.map((n, i) => (i === 0 ? n : full(n)));
      });
  }

  it("docs/configuration.md's key tables document exactly the keys the schema knows", () => {
    const documented = documentedKeys();
    expect(documented.length).toBeGreaterThan(50);
    expect(keyPaths(configSchema).filter((k) => !documented.includes(k))).toEqual([]);
    expect(documented.filter((k) => !keyPaths(configSchema).includes(k))).toEqual([]);
  });

  it('the docker-compose service starts from its environment (dev issuer asked for explicitly)', () => {
    const compose = parseYaml(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
      services: { sluice: { environment: Record<string, string> } };
    };
    // `${ANTHROPIC_API_KEY:-}` is empty when the host does not set it.
    const variables = Object.entries(compose.services.sluice.environment);
    const env = Object.fromEntries(variables.map(([k, v]) => [k, v.replace(/^\$\{[^}]*\}$/, '')]));
    const config = resolveConfig({}, env);
    expect(config.listen.host).toBe('0.0.0.0');
    expect(config.identity.devIssuer).toBe(true);
    expect(config.audit.kafka?.brokers).toEqual(['kafka:9092']);
  });
});

describe('config: where the audit file goes', () => {
  it('under stateDir by default, also when stateDir comes from the config file', () => {
    const dir = testTempDirSync('sluice-config-');
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, `stateDir: ${join(dir, 'state')}\n`);
    expect(loadConfig(file, {}).audit.file.path).toBe(join(dir, 'state', 'audit', 'audit.jsonl'));
    expect(resolveConfig({}, {}).audit.file.path).toBe(join('.sluice', 'audit', 'audit.jsonl'));
    expect(resolveConfig({}, { SLUICE_STATE_DIR: '/var/lib/sluice' }).audit.file.path).toBe(
      '/var/lib/sluice/audit/audit.jsonl',
    );
  });

  it('audit.file.path (or SLUICE_AUDIT_FILE) wins over stateDir', () => {
    expect(resolveConfig({ stateDir: '/s', audit: { file: { path: '/a/x.jsonl' } } }, {}).audit.file.path).toBe(
      '/a/x.jsonl',
    );
    expect(resolveConfig({ stateDir: '/s' }, { SLUICE_AUDIT_FILE: '/b/y.jsonl' }).audit.file.path).toBe('/b/y.jsonl');
  });

  it('audit.file.fsync is off and the format sluice unless set, and survive the path being filled in', () => {
    expect(resolveConfig({}, {}).audit.file).toEqual({
      path: join('.sluice', 'audit', 'audit.jsonl'),
      syncIntervalMs: 1000,
      content: 'masked',
      format: 'sluice',
    });
    expect(resolveConfig({ audit: { file: { format: 'ocsf' } } }, {}).audit.file.format).toBe('ocsf');
    expect(resolveConfig({ audit: { file: { fsync: true } } }, {}).audit.file.fsync).toBe(true);
  });
});
