/**
 * Request limits before authentication: per source address and per presented token. Verifying a
 * token costs a signature check (and, for an unknown key id, a JWKS fetch); counting a request
 * costs a map lookup. So a flood, of bad tokens or from one address, is refused at the count and
 * never reaches the verifier. Counts live in @fastify/rate-limit's LRU store, one per limit,
 * bounded to `maxTracked` entries: a flood of distinct tokens forgets the oldest instead of growing.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { SluiceConfig } from '../config.ts';
import { SluiceError } from '../errors.ts';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/**
 * The presented credential's key: a SHA-256 of the header value, so no token is held in memory
 * (and an unverified token's claims, which anyone can write, pick nothing). Undefined without one.
 */
export function presentedTokenKey(headers: IncomingHttpHeaders): string | undefined {
  const presented = headers['x-api-key'] ?? headers.authorization;
  if (presented === undefined || presented.length === 0) return undefined;
  const value = [presented].flat().join('\n');
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * Registers the limits on the root instance, as an onRequest hook added before any other plugin
 * loads, so it runs ahead of every authentication hook (route-level hooks, which the plugin's own
 * `global` mode adds, run after the plugins' hooks: too late).
 */
export function registerPreAuthLimits(
  app: FastifyInstance,
  limits: SluiceConfig['rateLimits'],
  onRefused: (limit: 'address' | 'token') => void = () => undefined,
): void {
  if (!limits.enabled) return;
  app.register(rateLimit, { global: false });
  app.after(() => {
    const common = { timeWindow: limits.windowSeconds * 1000, cache: limits.maxTracked };
    const byAddress = app.createRateLimit({ ...common, max: limits.perAddress });
    const byToken = app.createRateLimit({
      ...common,
      max: limits.perToken,
      keyGenerator: (req) => presentedTokenKey(req.headers) ?? '',
    });
    app.addHook('onRequest', async (req) => {
      await check(byAddress, req, 'this address', () => onRefused('address'));
      if (presentedTokenKey(req.headers) !== undefined)
        await check(byToken, req, 'this token', () => onRefused('token'));
    });
  });
}

async function check(limiter: Limiter, req: FastifyRequest, what: string, refused: () => void): Promise<void> {
  const result = await limiter(req);
  if (result.isAllowed || !result.isExceeded) return;
  refused();
  const retryAfter = Math.max(1, result.ttlInSeconds);
  throw new SluiceError(
    'SLUICE_ERR_RATE_LIMITED',
    `more than ${result.max} requests with ${what} in ${Math.round(result.timeWindow / 1000)} s: ` +
      `retry after ${retryAfter} s`,
    { headers: { 'retry-after': String(retryAfter) } },
  );
}
