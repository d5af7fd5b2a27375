import type { SluiceConfig } from '../config.ts';
import { ConfigError } from '../config.ts';
import { IDENTITY_DEFAULTS, type IdentityConfig } from './identity-config.ts';
import type { TokenVerifier } from './identity.ts';
import { MultiIssuerVerifier } from './multi-issuer-verifier.ts';
import { OidcTokenVerifier } from './token-verifier.ts';

/** The dev issuer's URL for a listen address: `serve` serves it and `token` mints for it. */
export function devIssuerUrl(config: SluiceConfig, port: number = config.listen.port): string {
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/dev-issuer`;
}

/** Maps the validated config to the verifier's settings; `issuer` is the configured one or the dev issuer's. */
export function identityConfigFrom(config: SluiceConfig, issuer: string, env: NodeJS.ProcessEnv): IdentityConfig {
  const id = config.identity;
  let hmacSecret: Uint8Array | undefined;
  if (id.hmacSecretEnv) {
    const value = env[id.hmacSecretEnv];
    if (!value) throw new ConfigError([`identity.hmacSecretEnv: environment variable ${id.hmacSecretEnv} is not set`]);
    hmacSecret = new TextEncoder().encode(value);
  }
  return {
    ...IDENTITY_DEFAULTS,
    issuer,
    audience: id.audience,
    algorithms: id.algorithms,
    clockToleranceSeconds: id.clockToleranceSeconds,
    maxTokenLifetimeSeconds: id.maxTokenLifetimeSeconds,
    groupsClaim: id.groupsClaim,
    scopesClaim: id.scopesClaim,
    jwksUri: id.jwksUri,
    discoveryTimeoutMs: id.discoveryTimeoutMs,
    jwksCacheMaxAgeSeconds: id.jwksCacheMaxAgeSeconds,
    jwksCooldownSeconds: id.jwksCooldownSeconds,
    verifiedTokenCacheSeconds: id.verifiedTokenCacheSeconds,
    hmacSecret,
  };
}

/** The settings of each entry of `identity.issuers`: the shared timings, its own issuer, keys and claims. */
function trustedIssuerConfigs(config: SluiceConfig, env: NodeJS.ProcessEnv): IdentityConfig[] {
  return (config.identity.issuers ?? []).map((t) => {
    const shared = identityConfigFrom(config, t.issuer, env);
    return {
      ...shared,
      name: t.name,
      audience: t.audience,
      jwksUri: t.jwksUri,
      algorithms: t.algorithms ?? shared.algorithms.filter((a) => !a.startsWith('HS')),
      groupsClaim: t.groupsClaim ?? shared.groupsClaim,
      scopesClaim: t.scopesClaim ?? shared.scopesClaim,
      claims: t.claims,
      groupsFrom: t.groupsFrom,
      subjectPrefix: t.subjectPrefix ?? `${t.name}:`,
      maxTokenLifetimeSeconds: t.maxTokenLifetimeSeconds ?? shared.maxTokenLifetimeSeconds,
      // The shared HMAC secret belongs to identity.issuer only: another issuer's tokens are never HMAC.
      hmacSecret: undefined,
    };
  });
}

/**
 * The gateway's token verifier: `issuer` (identity.issuer, or the dev issuer when no issuer is
 * configured) and each entry of identity.issuers, chosen by the token's `iss`. One issuer alone
 * is verified directly.
 */
export function createVerifier(
  config: SluiceConfig,
  issuer: string | undefined,
  env: NodeJS.ProcessEnv,
): TokenVerifier {
  const configs = [
    ...(issuer === undefined ? [] : [identityConfigFrom(config, issuer, env)]),
    ...trustedIssuerConfigs(config, env),
  ];
  if (configs.length === 1) return new OidcTokenVerifier(configs[0]!);
  return new MultiIssuerVerifier(new Map(configs.map((c) => [c.issuer, new OidcTokenVerifier(c)])));
}
