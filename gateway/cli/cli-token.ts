import { loadConfig, usesDevIssuer } from '../config.ts';
import { devIssuerUrl } from '../identity/create-verifier.ts';
import { DevIssuer } from '../identity/dev-issuer.ts';

function list(value: string | undefined): string[] {
  return value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

/**
 * `sluice token`: mints a short-lived token from the embedded dev issuer (the key in the state
 * directory that `serve` also uses) and prints it alone on stdout, so `$(sluice token)` works.
 */
export async function tokenCommand(
  opts: { config?: string; sub?: string; groups?: string; scopes?: string; ttl?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const config = loadConfig(opts.config, env);
  if (!usesDevIssuer(config)) {
    throw new Error(
      `identity.issuer(s) is configured (${config.identity.issuer ?? config.identity.issuers?.[0]?.issuer}): ` +
        'get tokens from that provider; ' +
        'the dev issuer only serves embedded defaults',
    );
  }
  const ttlSeconds = opts.ttl === undefined ? undefined : Number(opts.ttl);
  if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds > 0))
    throw new Error(`--ttl must be a positive number of seconds, got "${opts.ttl}"`);
  const issuer = await DevIssuer.open({ stateDir: config.stateDir, issuerUrl: devIssuerUrl(config) });
  const token = await issuer.mintToken({
    sub: opts.sub ?? env.USER ?? 'developer',
    groups: list(opts.groups ?? 'engineering'),
    scopes: list(opts.scopes),
    audience: config.identity.audience,
    clientId: 'sluice-cli',
    ttlSeconds,
  });
  process.stdout.write(`${token}\n`);
  return 0;
}
