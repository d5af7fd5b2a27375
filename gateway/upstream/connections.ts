import { Pool } from 'undici';
import type { ConnectionConfig } from '../config.ts';
import { ConfigError } from '../config.ts';

/** A configured upstream: where calls go and the credential Sluice adds. Callers never pick the host. */
export interface Connection {
  readonly name: string;
  readonly origin: string;
  /** Path prefix of the base URL (e.g. "/anthropic" behind another proxy), without a trailing slash. */
  readonly basePath: string;
  readonly authHeader: 'x-api-key' | 'authorization';
  readonly echo: boolean;
  readonly pool: Pool;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** The header value to add; held in memory only, never logged or audited. */
  credentialHeaderValue(): string | undefined;
}

/** Builds one keep-alive undici Pool per connection and resolves credentials from the environment at start. */
export class ConnectionRegistry {
  private readonly byName = new Map<string, Connection>();

  constructor(
    configs: readonly ConnectionConfig[],
    readonly defaultName: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const problems: string[] = [];
    configs.forEach((c, i) => {
      const secret = c.apiKeyEnv ? env[c.apiKeyEnv] : undefined;
      if (c.apiKeyEnv && !secret)
        problems.push(`connections.${i}.apiKeyEnv: environment variable ${c.apiKeyEnv} is not set`);
      const url = new URL(c.baseUrl);
      const headerValue =
        secret === undefined ? undefined : c.authHeader === 'authorization' ? `Bearer ${secret}` : secret;
      this.byName.set(c.name, {
        name: c.name,
        origin: url.origin,
        basePath: url.pathname.replace(/\/+$/, ''),
        authHeader: c.authHeader,
        echo: c.echo,
        headersTimeoutMs: c.headersTimeoutMs,
        bodyTimeoutMs: c.bodyTimeoutMs,
        pool: new Pool(url.origin, {
          connect: { timeout: c.connectTimeoutMs },
          keepAliveTimeout: 30_000,
          pipelining: 1,
        }),
        credentialHeaderValue: () => headerValue,
      });
    });
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /** The named connection, or the default one when no name is given; undefined if unknown. */
  get(name: string | undefined): Connection | undefined {
    return this.byName.get(name ?? this.defaultName);
  }

  list(): Connection[] {
    return [...this.byName.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.list().map((c) => c.pool.close()));
  }
}
