import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveConfig } from '../../gateway/config.ts';

describe('config', () => {
  it('fills embedded defaults and freezes the result', () => {
    const config = resolveConfig({}, {});
    expect(config.listen.port).toBe(8080);
    expect(config.connections[0]).toMatchObject({ name: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY', authHeader: 'x-api-key' });
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
    const dup = { connections: [{ name: 'a', baseUrl: 'http://127.0.0.1:1' }, { name: 'a', baseUrl: 'http://127.0.0.1:2' }] };
    expect(() => resolveConfig(dup, {})).toThrow(/duplicate connection name/);
    expect(() => resolveConfig({ defaultConnection: 'nope' }, {})).toThrow(/defaultConnection/);
  });

  it('applies env overrides over the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, 'listen:\n  port: 9000\nlog:\n  level: warn\n');
    const config = loadConfig(file, { SLUICE_PORT: '9100' });
    expect(config.listen.port).toBe(9100);
    expect(config.log.level).toBe('warn');
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(() => loadConfig('/nonexistent/sluice.yaml', {})).toThrow(/cannot read/);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
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
    expect(problemsOf({ identity: { issuers: [{ issuer: 'https://idp.example.com' }] } })).toEqual([
      'identity.issuers: unknown key (did you mean identity.issuer?)',
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

describe('config: where the audit file goes', () => {
  it('under stateDir by default, also when stateDir comes from the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, `stateDir: ${join(dir, 'state')}\n`);
    expect(loadConfig(file, {}).audit.file.path).toBe(join(dir, 'state', 'audit', 'audit.jsonl'));
    expect(resolveConfig({}, {}).audit.file.path).toBe(join('.sluice', 'audit', 'audit.jsonl'));
    expect(resolveConfig({}, { SLUICE_STATE_DIR: '/var/lib/sluice' }).audit.file.path).toBe('/var/lib/sluice/audit/audit.jsonl');
  });

  it('audit.file.path (or SLUICE_AUDIT_FILE) wins over stateDir', () => {
    expect(resolveConfig({ stateDir: '/s', audit: { file: { path: '/a/x.jsonl' } } }, {}).audit.file.path).toBe('/a/x.jsonl');
    expect(resolveConfig({ stateDir: '/s' }, { SLUICE_AUDIT_FILE: '/b/y.jsonl' }).audit.file.path).toBe('/b/y.jsonl');
  });

  it('audit.file.fsync is off unless set, and survives the path being filled in', () => {
    expect(resolveConfig({}, {}).audit.file).toEqual({ path: join('.sluice', 'audit', 'audit.jsonl'), fsync: false });
    expect(resolveConfig({ audit: { file: { fsync: true } } }, {}).audit.file.fsync).toBe(true);
  });
});
