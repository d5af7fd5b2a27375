import type { SluiceConfig } from '../config.ts';
import { ConfigError } from '../config.ts';
import { IDENTITY_DEFAULTS, type IdentityConfig } from './identity-config.ts';
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

export function createVerifier(config: SluiceConfig, issuer: string, env: NodeJS.ProcessEnv): OidcTokenVerifier {
  return new OidcTokenVerifier(identityConfigFrom(config, issuer, env));
}
