/**
 * A whole Sluice on port 0 for end-to-end tests, built from real parts: the test IdP (HTTP
 * discovery + JWKS), the bundle built from policies/ by global setup, the file audit sink in a
 * temp dir, and the mock Claude upstream as the only stand-in.
 */
import { assertAuditSchema } from './audit-schema.ts';
import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { AuditEvent } from '../../gateway/audit/events.ts';
import { resolveConfig } from '../../gateway/config.ts';
import { MockClaude, type MockClaudeOptions } from '../../gateway/dev/mock-claude.ts';
import { startGateway, type RunningGateway } from '../../gateway/start.ts';
import { TestIdp } from './test-idp.ts';

/** Config overrides a test may need (merged over the harness's own). */
export interface HarnessOptions {
  readonly bodyBytes?: number;
  /** limits.responseBytes and audit.maxContentBytes: the answer and audit content size bounds. */
  readonly responseBytes?: number;
  readonly auditMaxContentBytes?: number;
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  /** limits.requestTimeoutMs / limits.headersTimeoutMs: how long a caller may take to send. */
  readonly clientRequestTimeoutMs?: number;
  readonly clientHeadersTimeoutMs?: number;
  /** Options for the mock Claude upstream (pacing, chunking). */
  readonly mock?: Omit<MockClaudeOptions, 'apiKey'>;
  /** A policy bundle other than the one built from policies/. */
  readonly policyBundle?: string;
  /** Config sections `approvals` and `sessions` (gateway/approvals, gateway/access). */
  readonly approvals?: Record<string, unknown>;
  readonly sessions?: Record<string, unknown>;
  /** Config section `console`, `identity` overrides (another issuer), a fixed listen port. */
  readonly console?: Record<string, unknown>;
  readonly identity?: Record<string, unknown>;
  readonly port?: number;
  /** Where the audit file goes (default: the harness's temp dir), and `audit.onWriteFailure`. */
  readonly auditFile?: string;
  readonly auditOnWriteFailure?: 'fail-closed' | 'fail-open';
  /** `audit.durability`: with `strict` each exchange record is written before the answer's end. */
  readonly auditDurability?: 'relaxed' | 'strict';
  /** `audit.file.format`: the file holds Sluice's audit lines (default) or their OCSF projection. */
  readonly auditFileFormat?: 'sluice' | 'ocsf';
  /** Config section `metrics`, e.g. `{ tokenEnv: 'X' }`. */
  readonly metrics?: Record<string, unknown>;
  /** Config section `listen` beyond host and port, e.g. `{ trustProxy: true }`. */
  readonly listen?: Record<string, unknown>;
  /** Config section `audit.kafka` (gateway/audit/kafka-sink.ts): the Kafka sink beside the file. */
  readonly auditKafka?: Record<string, unknown>;
  /** Config section `telemetry` (gateway/otlp), e.g. `{ otlp: { endpoint } }`. */
  readonly telemetry?: Record<string, unknown>;
  /** Config section `state` (gateway/store), e.g. `{ postgres: { url } }` for a shared server. */
  readonly state?: Record<string, unknown>;
  /** Config section `inspect` (gateway/inspect/request-schema.ts), e.g. `{ unknownBlocks: 'scan' }`. */
  readonly inspect?: Record<string, unknown>;
  /** Config sections `files` (upload limits) and `ownership`. */
  readonly files?: Record<string, unknown>;
  readonly ownership?: Record<string, unknown>;
  /** Config section `rateLimits` (pre-auth limits); unset, the defaults (on) apply. */
  readonly rateLimits?: Record<string, unknown>;
  /** Another upstream for the `anthropic` connection (the mock still runs, for `secondary`). */
  readonly upstreamUrl?: string;
}

export interface Harness {
  readonly idp: TestIdp;
  readonly upstream: MockClaude;
  readonly gateway: RunningGateway;
  readonly url: string;
  /** The upstream credential Sluice adds; callers never see it. */
  readonly upstreamKey: string;
  /** The JSONL audit file the gateway writes. */
  readonly auditFile: string;
  /** The gateway's stateDir (its database, uploads being spooled). */
  readonly stateDir: string;
  /** A token for `sub` with `groups`, from the test IdP. */
  token(groups: readonly string[], sub?: string): Promise<string>;
  /** The official SDK pointed at Sluice with a fresh token (no retries, so each call is one request). */
  client(groups: readonly string[], sub?: string): Promise<Anthropic>;
  /** Every audit event written so far, flushed first. */
  auditEvents(): Promise<AuditEvent[]>;
  /** Stops the gateway and starts a new one on the same config and state dir (new port: read url again). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const UPSTREAM_KEY_ENV = 'SLUICE_TEST_UPSTREAM_KEY';

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-e2e-'));
  const upstreamKey = `sk-test-${randomBytes(16).toString('hex')}`;
  const idp = await TestIdp.start();
  const upstream = await MockClaude.start({ ...options.mock, apiKey: upstreamKey });
  const env = { [UPSTREAM_KEY_ENV]: upstreamKey };
  const auditFile = options.auditFile ?? join(dir, 'audit.jsonl');
  const config = resolveConfig(
    {
      listen: { host: '127.0.0.1', port: options.port ?? 0, ...options.listen },
      stateDir: dir,
      limits: {
        bodyBytes: options.bodyBytes ?? 1024 * 1024,
        ...(options.responseBytes ? { responseBytes: options.responseBytes } : {}),
        ...(options.clientRequestTimeoutMs ? { requestTimeoutMs: options.clientRequestTimeoutMs } : {}),
        ...(options.clientHeadersTimeoutMs ? { headersTimeoutMs: options.clientHeadersTimeoutMs } : {}),
      },
      identity: {
        issuer: idp.issuer,
        audience: idp.audience,
        algorithms: ['RS256', 'ES256'],
        jwksCooldownSeconds: 0,
        ...options.identity,
      },
      connections: [
        {
          name: 'anthropic',
          baseUrl: options.upstreamUrl ?? upstream.url,
          apiKeyEnv: UPSTREAM_KEY_ENV,
          headersTimeoutMs: options.headersTimeoutMs ?? 5000,
          bodyTimeoutMs: options.bodyTimeoutMs ?? 5000,
        },
        { name: 'secondary', baseUrl: upstream.url, apiKeyEnv: UPSTREAM_KEY_ENV },
      ],
      policy: { bundle: options.policyBundle ?? inject('policyBundle'), buildIfMissing: false },
      // No chain-head lines on the test run's stdout (they ignore log.level); cli-serve.test.ts covers them.
      audit: {
        file: { path: auditFile, ...(options.auditFileFormat ? { format: options.auditFileFormat } : {}) },
        anchorIntervalSeconds: 0,
        ...(options.auditOnWriteFailure ? { onWriteFailure: options.auditOnWriteFailure } : {}),
        ...(options.auditDurability ? { durability: options.auditDurability } : {}),
        ...(options.auditMaxContentBytes ? { maxContentBytes: options.auditMaxContentBytes } : {}),
        ...(options.auditKafka ? { kafka: options.auditKafka } : {}),
      },
      // SLUICE_TEST_LOG=warn (or error, debug) shows the gateway's log while debugging a test.
      log: { level: (process.env.SLUICE_TEST_LOG as 'silent') ?? 'silent' },
      ...(options.approvals ? { approvals: options.approvals } : {}),
      ...(options.sessions ? { sessions: options.sessions } : {}),
      ...(options.console ? { console: options.console } : {}),
      ...(options.state ? { state: options.state } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(options.files ? { files: options.files } : {}),
      ...(options.ownership ? { ownership: options.ownership } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.telemetry ? { telemetry: options.telemetry } : {}),
      ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    },
    env,
  );
  let gateway = await startGateway(config, env).catch(async (err: unknown) => {
    await Promise.all([upstream.close(), idp.close(), rm(dir, { recursive: true, force: true })]);
    throw err;
  });
  const token = (groups: readonly string[], sub = 'alice'): Promise<string> =>
    idp.mint({ sub, groups: [...groups], client_id: 'e2e-client' });
  return {
    idp,
    upstream,
    get gateway() {
      return gateway;
    },
    get url() {
      return gateway.url;
    },
    upstreamKey,
    auditFile,
    stateDir: dir,
    token,
    async client(groups, sub) {
      return new Anthropic({ baseURL: gateway.url, authToken: await token(groups, sub), apiKey: null, maxRetries: 0 });
    },
    async auditEvents() {
      await gateway.audit.flush();
      const text = await readFile(auditFile, 'utf8').catch(() => '');
      const events = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);
      assertAuditSchema(events);
      return events;
    },
    async restart() {
      await gateway.close();
      gateway = await startGateway(config, env);
    },
    async close() {
      await gateway.close();
      await upstream.close();
      await idp.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
