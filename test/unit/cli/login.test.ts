import { chmod, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { claudeCommand } from '../../../gateway/cli/cli-claude.ts';
import { loginTarget } from '../../../gateway/cli/cli-login.ts';
import {
  credentialsPath,
  readCachedTokens,
  withCacheLock,
  writeCachedTokens,
} from '../../../gateway/cli/login-cache.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-login-unit-'));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const TOKENS = { issuer: 'https://login.example.com', clientId: 'sluice-cli', accessToken: 'at', refreshToken: 'rt' };

describe('sluice login target', () => {
  it("takes the people's provider, CLI client and scope from the config file", async () => {
    const file = join(dir, 'people.yaml');
    await writeFile(
      file,
      'identity: { issuer: https://ids.example.com, audience: sluice }\n' +
        'console: { issuer: https://people.example.com, cliClientId: acme-cli, scope: openid groups }\n',
    );
    expect(loginTarget({ config: file }, {})).toEqual({
      issuer: 'https://people.example.com',
      clientId: 'acme-cli',
      scope: 'openid groups offline_access',
      resource: undefined,
    });
    // Flags win over the file.
    expect(loginTarget({ config: file, issuer: 'https://other.example.com', scope: 'openid' }, {})).toMatchObject({
      issuer: 'https://other.example.com',
      scope: 'openid',
    });
  });

  it('falls back to identity.issuer, and to the defaults without a file; no provider is an error', async () => {
    const file = join(dir, 'identity-only.yaml');
    await writeFile(file, 'identity: { issuer: https://ids.example.com, audience: sluice }\n');
    expect(loginTarget({ config: file }, {})).toMatchObject({
      issuer: 'https://ids.example.com',
      clientId: 'sluice-cli',
    });
    expect(loginTarget({ issuer: 'https://x.example.com' }, {})).toEqual({
      issuer: 'https://x.example.com',
      clientId: 'sluice-cli',
      scope: 'openid offline_access',
      resource: undefined,
    });
    expect(() => loginTarget({}, {})).toThrow(/pass --issuer/);
  });
});

describe('the token cache', () => {
  it('lives under XDG_CONFIG_HOME, else ~/.config, unless --cache names it', () => {
    expect(credentialsPath(undefined, { XDG_CONFIG_HOME: '/x', HOME: '/h' })).toBe('/x/sluice/credentials.json');
    expect(credentialsPath(undefined, { XDG_CONFIG_HOME: ' ', HOME: '/h' })).toBe('/h/.config/sluice/credentials.json');
    expect(credentialsPath('/c.json', { XDG_CONFIG_HOME: '/x' })).toBe('/c.json');
  });

  it('is written 0600 as a new file, replacing a world-readable one', async () => {
    const path = join(dir, 'cache', 'credentials.json');
    await writeCachedTokens(path, { ...TOKENS, accessToken: 'old' });
    await chmod(path, 0o644);
    await writeCachedTokens(path, TOKENS);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'cache'))).mode & 0o777).toBe(0o700);
    expect(await readCachedTokens(path)).toEqual(TOKENS);
  });

  it('refuses a damaged cache instead of treating it as signed out', async () => {
    const path = join(dir, 'damaged.json');
    await writeFile(path, '{"issuer": "https://x.example.com"}');
    await expect(readCachedTokens(path)).rejects.toThrow(/not a sluice credentials file/);
    await writeFile(path, 'nope');
    await expect(readCachedTokens(path)).rejects.toThrow(/not valid JSON/);
    expect(await readCachedTokens(join(dir, 'absent.json'))).toBeUndefined();
  });

  it('lets one refresh run at a time and takes over a stale lock', async () => {
    const path = join(dir, 'locked', 'credentials.json');
    const order: string[] = [];
    let release!: () => void;
    const first = withCacheLock(path, async () => {
      order.push('first in');
      await new Promise<void>((r) => (release = r));
      order.push('first out');
    });
    await vi.waitFor(() => expect(order).toEqual(['first in']));
    const second = withCacheLock(path, async () => void order.push('second'));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second']);

    await writeFile(`${path}.lock`, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    expect(await withCacheLock(path, async () => 'ran')).toBe('ran');
    await expect(stat(`${path}.lock`)).rejects.toThrow(/ENOENT/);
  });
});

describe('sluice claude configure', () => {
  it('quotes paths for /bin/sh and sets the helper TTL a minute below the token lifetime', async () => {
    const cache = join(dir, "it's mine", 'credentials.json');
    await writeCachedTokens(cache, { ...TOKENS, lifetimeSeconds: 3600 });
    const settings = join(dir, 'claude', 'settings.json');
    await writeFile(
      join(dir, 'cfg.yaml'),
      'listen: { host: 0.0.0.0, port: 9443 }\nidentity: { issuer: https://ids.example.com, audience: sluice }\n',
    );
    expect(await claudeCommand(['configure'], { settings, cache, config: join(dir, 'cfg.yaml') }, {})).toBe(0);
    const written = JSON.parse(await readFile(settings, 'utf8')) as { apiKeyHelper: string; env: object };
    expect(written.apiKeyHelper.endsWith(` token --print --cache '${dir}/it'\\''s mine/credentials.json'`)).toBe(true);
    expect(written.env).toEqual({
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9443',
      CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '3540000',
    });
    expect((await stat(settings)).mode & 0o777).toBe(0o600);
  });

  it('refuses settings that are not a JSON object, and an unknown subcommand', async () => {
    const settings = join(dir, 'array-settings.json');
    await writeFile(settings, '[]');
    await expect(claudeCommand(['configure'], { settings, 'base-url': 'http://s' }, {})).rejects.toThrow(
      /does not hold a JSON object/,
    );
    expect(await readFile(settings, 'utf8')).toBe('[]');
    await expect(claudeCommand(['setup'], {}, {})).rejects.toThrow(/usage: sluice claude configure/);
  });
});
