import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { unknownKeys } from './config-keys.ts';
import type { SluiceErrorCode } from './errors.ts';

/**
 * One schema for the config file (YAML or JSON) plus env overrides. Validated once at start:
 * every problem is reported together with its dotted key, a key the schema does not declare is
 * one (config-keys.ts), and the result is frozen.
 * README.md ("Configuration") documents every key; keep the two in step.
 */
const connectionSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _'),
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** Name of the environment variable holding the upstream credential (never the value itself). */
  apiKeyEnv: z.string().min(1).optional(),
  /** Header the credential goes in: x-api-key (Anthropic) or authorization (Bearer). */
  authHeader: z.enum(['x-api-key', 'authorization']).default('x-api-key'),
  /** Set by `sluice serve` when it starts the local echo upstream; shown in logs and /readyz. */
  echo: z.boolean().default(false),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** Time until response headers arrive. */
  headersTimeoutMs: z.number().int().positive().default(600_000),
  /** Longest silence between two body chunks (SSE pings arrive every few seconds). */
  bodyTimeoutMs: z.number().int().positive().default(300_000),
});

/** `audit.kafka`: the Kafka audit sink (gateway/audit/kafka-sink.ts) and its spool. */
/** What an audit sink receives of prompts and answers (gateway/audit/events.ts ContentMode). */
const contentModeSchema = z.enum(['masked', 'digest', 'none']).default('masked');

/** The write-ahead spool a spooled audit sink delivers from (gateway/audit/spool.ts). */
const auditSpoolSchema = z
  .object({
    dir: z.string().optional(),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
    /** Undelivered lines kept in memory; the rest wait on disk only (a long outage must not grow the heap). */
    memoryBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
    /**
     * fdatasync each appended batch; unset follows `audit.file.sync` (synced unless `none`): the
     * copy on its way to a SIEM is as durable as the audit file it copies, no more and no less.
     */
    fsync: z.boolean().optional(),
  })
  .prefault({});

const kafkaAuditSchema = z.object({
  brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port')).min(1),
  clientId: z.string().min(1).default('sluice'),
  topics: z
    .object({
      decisions: z.string().min(1).default('sluice.audit.decisions'),
      sessions: z.string().min(1).default('sluice.audit.sessions'),
    })
    .prefault({}),
  /** What the topics carry: Sluice's audit lines, or their OCSF projection (gateway/audit/ocsf-project.ts). */
  format: z.enum(['sluice', 'ocsf']).default('sluice'),
  /** Create the topics at first connect; set false where topics are managed elsewhere. */
  createTopics: z.boolean().default(true),
  partitions: z.number().int().positive().default(3),
  replicationFactor: z.number().int().positive().default(1),
  /** Default dir: <stateDir>/audit/kafka-spool. */
  spool: auditSpoolSchema,
  /** fail-closed refuses new calls with 503 while the spool is full; fail-open stops sending new events to Kafka. */
  onSpoolFull: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  maxBatchRecords: z.number().int().positive().max(10_000).default(500),
  closeTimeoutMs: z.number().int().min(0).default(5000),
  /** What the topics receive of prompts and answers: a SIEM usually wants `digest`. */
  content: contentModeSchema,
  /** Batch compression: gzip is built into kafkajs; `none` for brokers that refuse it. */
  compression: z.enum(['gzip', 'none']).default('gzip'),
  /** How long the producer waits for more events to fill a batch (Kafka's linger.ms). */
  lingerMs: z.number().int().min(0).max(1000).default(5),
});

/** `audit.splunk`: the Splunk HTTP Event Collector sink (gateway/audit/splunk-hec-sink.ts) and its spool. */
const splunkAuditSchema = z.object({
  /** HEC base URL; events are posted to {url}/services/collector/event. */
  url: z.url({ protocol: /^https?$/ }),
  /** Env var holding the HEC token (never the token itself in the file). */
  tokenEnv: z.string().min(1),
  /** Default: the token's default index. */
  index: z.string().min(1).optional(),
  source: z.string().min(1).default('sluice'),
  sourcetype: z.string().min(1).default('sluice:audit'),
  /** Default: the machine's host name. */
  host: z.string().min(1).optional(),
  /** What HEC receives of prompts and answers: masked, digest or none (each a chain of its own). */
  content: contentModeSchema,
  tls: z
    .object({
      /** Verify the HEC server's certificate; false only for a lab Splunk with a self-signed one. */
      verify: z.boolean().default(true),
      /** PEM file of the CA that signed the HEC certificate (default: the system CAs). */
      caFile: z.string().optional(),
    })
    .prefault({}),
  timeoutMs: z.number().int().positive().default(30_000),
  /** Default dir: <stateDir>/audit/splunk-spool. */
  spool: auditSpoolSchema,
  onSpoolFull: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  maxBatchRecords: z.number().int().positive().max(10_000).default(500),
  /** Under HEC's default max_content_length (800 MB is the ceiling; many front ends take 1 MiB). */
  maxBatchBytes: z
    .number()
    .int()
    .positive()
    .default(900 * 1024),
  closeTimeoutMs: z.number().int().min(0).default(5000),
});

/** `telemetry.otlp`: OpenTelemetry export (gateway/otlp) of audit events, call spans and metrics; off when absent. */
const otlpTelemetrySchema = z.object({
  /**
   * Collector base URL: http://host:4318 for http/protobuf (the SDK adds /v1/logs, /v1/traces,
   * /v1/metrics), http://host:4317 for grpc.
   */
  endpoint: z.url({ protocol: /^https?$/ }),
  protocol: z.enum(['http/protobuf', 'grpc']).default('http/protobuf'),
  /** Headers sent with every export (an API key: put it in valueEnv). */
  headers: z
    .array(
      z
        .object({ name: z.string().min(1), value: z.string().optional(), valueEnv: z.string().min(1).optional() })
        .refine((h) => (h.value === undefined) !== (h.valueEnv === undefined), 'exactly one of value, valueEnv'),
    )
    .default([]),
  /** The resource's service.name. */
  serviceName: z.string().min(1).default('sluice'),
  timeoutMs: z.number().int().positive().default(10_000),
  /** Audit events as OTLP log records (an audit sink, through its own spool). */
  logs: z
    .object({
      enabled: z.boolean().default(true),
      /** What the log records carry of prompts and answers: masked, digest or none. */
      content: contentModeSchema,
      /** Default dir: <stateDir>/audit/otlp-spool. */
      spool: auditSpoolSchema,
      onSpoolFull: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
      maxBatchRecords: z.number().int().positive().max(10_000).default(512),
      closeTimeoutMs: z.number().int().min(0).default(5000),
    })
    .prefault({}),
  /** A span per call with a child span per stage, built from the call's trace once it ended. */
  traces: z.object({ enabled: z.boolean().default(true) }).prefault({}),
  /** The /metrics counters and histograms as OTLP metrics. */
  metrics: z
    .object({
      enabled: z.boolean().default(true),
      intervalMs: z.number().int().positive().default(60_000),
    })
    .prefault({}),
});

/** `state.postgres`: the PostgreSQL server several instances share (gateway/store). */
const postgresStateSchema = z.object({
  /** postgres://user@host:port/db; a password belongs in urlEnv, not in the file. */
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
    .optional(),
  /** Env var holding the URL (with its password); used when `url` is unset. */
  urlEnv: z.string().optional(),
  poolSize: z.number().int().positive().max(1000).default(10),
  connectTimeoutMs: z.number().int().positive().default(5000),
  /** A statement running longer is cancelled (and its call refused), so a stuck database cannot hold calls. */
  statementTimeoutMs: z.number().int().positive().default(10_000),
  tls: z
    .object({
      /** Default: verify-full, except disable for a loopback host (the traffic never leaves the machine). */
      mode: z.enum(['disable', 'require', 'verify-full']).optional(),
      /** PEM file of the CA that signed the server's certificate (default: the system CAs). */
      caFile: z.string().optional(),
    })
    .prefault({}),
});

/** JWS algorithms verified with an issuer's public keys (JWKS). */
const PUBLIC_KEY_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** One trusted token issuer of `identity.issuers` (see IdentityConfig for each field's meaning). */
const trustedIssuerSchema = z.object({
  /** Its name in the policy input (`identity.issuer_name`) and, by default, the prefix of its subjects. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lowercase letters, digits, - and _ (at most 32)'),
  issuer: z.url(),
  audience: z.union([z.string(), z.array(z.string()).min(1)]),
  jwksUri: z.url().optional(),
  /** Token algorithms of this issuer: public-key ones only (an HMAC secret belongs to identity.issuer). */
  algorithms: z.array(z.enum(PUBLIC_KEY_ALGORITHMS)).min(1).optional(),
  groupsClaim: z.string().optional(),
  scopesClaim: z.string().optional(),
  /** Claims passed to the policy as `identity.claims` (e.g. repository, environment, ref). */
  claims: z.array(z.string().min(1)).default([]),
  /** Groups granted by claim values (`equals`, or a `matches` glob), so CI tokens fit group-based rules. */
  groupsFrom: z
    .array(
      z
        .object({
          claim: z.string().min(1),
          equals: z.string().optional(),
          matches: z.string().min(1).optional(),
          groups: z.array(z.string().min(1)).min(1),
        })
        .refine((r) => (r.equals === undefined) !== (r.matches === undefined), 'give exactly one of equals, matches'),
    )
    .default([]),
  /** Prepended to `sub`; default `{name}:`, so `alice` of two issuers is two subjects. */
  subjectPrefix: z.string().optional(),
  maxTokenLifetimeSeconds: z.number().int().positive().optional(),
});

/** The whole config file; exported for the test that keeps every key of it checked (config-keys.ts). */
export const configSchema = z.object({
  listen: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /**
       * Trust X-Forwarded-* from a TLS-terminating proxy (Fastify trustProxy): true, or the proxy's
       * addresses/CIDRs. Then https seen by the proxy is https to Sluice.
       */
      trustProxy: z.union([z.boolean(), z.string().min(1), z.array(z.string().min(1)).min(1)]).default(false),
    })
    .prefault({}),
  /** Where dev keys and default audit files live. */
  stateDir: z.string().default('.sluice'),
  limits: z
    .object({
      bodyBytes: z
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024),
      /** Largest upstream answer relayed (JSON body or SSE stream bytes); larger ends the call (502 / SSE error). */
      responseBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1024 * 1024),
      /** Time allowed to receive a whole request, headers and body (slow-client guard). */
      requestTimeoutMs: z.number().int().positive().default(60_000),
      /** Time allowed to receive the request headers (slowloris guard); capped by requestTimeoutMs. */
      headersTimeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /**
   * Request limits checked before authentication, per source address and per presented token (by
   * its hash), so a flood of bad tokens is refused before any signature is checked.
   */
  rateLimits: z
    .object({
      enabled: z.boolean().default(true),
      /** The fixed window the counts below are per, in seconds. */
      windowSeconds: z.number().int().positive().default(60),
      /** Requests one source address (`req.ip`: the client, or X-Forwarded-For with listen.trustProxy) may send. */
      perAddress: z.number().int().positive().default(3000),
      /** Requests carrying one token (Authorization or x-api-key, valid or not) may send. */
      perToken: z.number().int().positive().default(1200),
      /** Addresses and tokens counted at once, each (least recently seen forgotten first): bounds memory. */
      maxTracked: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  identity: z
    .object({
      /** OIDC issuer URL; omit to use the embedded dev issuer served at /dev-issuer (loopback only). */
      issuer: z.url().optional(),
      /**
       * Serve the embedded dev issuer on a non-loopback listen address (a container whose port is
       * published on the host's loopback only). Without it Sluice refuses to start there with no
       * identity.issuer, so a missing or misspelt issuer never silently trusts dev tokens.
       */
      devIssuer: z.boolean().default(false),
      audience: z.union([z.string(), z.array(z.string()).min(1)]).default('sluice'),
      algorithms: z
        .array(z.enum([...PUBLIC_KEY_ALGORITHMS, 'HS256', 'HS384', 'HS512']))
        .min(1)
        .default(['RS256', 'PS256', 'ES256', 'EdDSA']),
      clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
      maxTokenLifetimeSeconds: z.number().int().positive().default(3600),
      groupsClaim: z.string().default('groups'),
      scopesClaim: z.string().default('scope'),
      jwksUri: z.url().optional(),
      discoveryTimeoutMs: z.number().int().positive().default(5000),
      jwksCacheMaxAgeSeconds: z.number().int().positive().default(600),
      jwksCooldownSeconds: z.number().int().min(0).default(30),
      /** Reuse a verified token's identity this long (capped by its expiry); 0 verifies every call. */
      verifiedTokenCacheSeconds: z.number().int().min(0).max(300).default(60),
      /** Env var with a shared HMAC secret; HS* algorithms are refused unless this is set. */
      hmacSecretEnv: z.string().optional(),
      /**
       * More trusted issuers (CI, Kubernetes, a second IdP), beside or instead of `issuer`. The
       * token's `iss` picks one; each has its own keys, audience and claims passed to the policy.
       */
      issuers: z.array(trustedIssuerSchema).min(1).optional(),
    })
    .prefault({}),
  connections: z
    .array(connectionSchema)
    .min(1)
    .prefault([{ name: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY' }]),
  /** Connection used by /v1/...; others are reached at /c/<name>/v1/... */
  defaultConnection: z.string().optional(),
  policy: z
    .object({
      /** A built bundle (.tar.gz from `sluice bundle build`): a file path, or an http(s) URL of a bundle server. */
      bundle: z.string().min(1).default('bundles/build/sluice.tar.gz'),
      /** Build the bundle from policies/ when it is missing (embedded default). */
      buildIfMissing: z.boolean().default(true),
      policiesDir: z.string().default('policies'),
      /** PEM public key; when set, only bundles signed by its private key are loaded. */
      publicKey: z.string().min(1).optional(),
      /** Reload a file bundle when it changes. */
      watch: z.boolean().default(true),
      /**
       * Delay between two polls of a bundle server (random in [min, max], OPA's defaults); also the file re-check
       * interval.
       */
      polling: z
        .object({
          minDelaySeconds: z.number().positive().default(60),
          maxDelaySeconds: z.number().positive().default(120),
        })
        .prefault({}),
      /** Ask the bundle server to hold a poll open up to this long (OPA long polling). */
      longPollingTimeoutSeconds: z.number().int().positive().optional(),
    })
    .prefault({}),
  audit: z
    .object({
      /** The JSONL audit file; default {stateDir}/audit/audit.jsonl (filled in by resolveConfig). */
      file: z
        .object({
          path: z.string().min(1).optional(),
          /**
           * When the file is fdatasync'd (docs/audit.md says what each risks): `every` batch before
           * a waiting call goes on (its decision survives a power loss, not only a crash);
           * `interval` every syncIntervalMs; `none` leaves it to the kernel.
           */
          sync: z.enum(['every', 'interval', 'none']).optional(),
          syncIntervalMs: z.number().int().min(10).max(60_000).default(1000),
          /** Older spelling of `sync`: true is `every`, false `none`. */
          fsync: z.boolean().optional(),
          /** What the file receives of prompts and answers: masked text, only digests, or none. */
          content: contentModeSchema,
          /** Sluice's chained audit lines, or their OCSF projection (a SIEM feed that `audit verify` cannot check). */
          format: z.enum(['sluice', 'ocsf']).default('sluice'),
        })
        .prefault({}),
      /**
       * While the audit file cannot be written (a full disk): fail-closed refuses calls with 503 and
       * turns /readyz 503 until writes succeed again; fail-open keeps serving, queues events in
       * memory up to 64 MiB and then drops new ones (counted, logged at error).
       */
      onWriteFailure: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
      /**
       * `strict`: a call's exchange record is written (as `written()` counts it: the file synced per
       * `file.sync`, the spools' disks) before the answer's last byte goes out, and a record that
       * cannot be written costs the caller the answer; `relaxed`: written as the call ends.
       */
      durability: z.enum(['relaxed', 'strict']).default('relaxed'),
      /** Stream audit events to Kafka as well (through a local write-ahead spool); off when absent. */
      kafka: kafkaAuditSchema.optional(),
      /** Send audit events to a Splunk HTTP Event Collector as well (through its own spool); off when absent. */
      splunk: splunkAuditSchema.optional(),
      /**
       * Log the chain head (`INSTANCE:SEQ:HASH`) this often when it moved, and at shutdown
       * (gateway/audit/chain-anchor.ts); 0: never.
       */
      anchorIntervalSeconds: z.number().int().nonnegative().default(60),
      /** Content bytes one event stores at most; larger content is cut to a head with its size and sha256. */
      maxContentBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
    })
    .prefault({}),
  /**
   * The control-plane state (approvals, sessions, grants, console sign-ins, object ownership,
   * usage): the embedded PGlite database in {stateDir}/db, or with `postgres` a server shared by
   * every instance (gateway/store).
   */
  state: z
    .object({
      postgres: postgresStateSchema.optional(),
      /** The embedded PGlite database, used when `postgres` is unset. */
      embedded: z
        .object({
          /**
           * PostgreSQL's page cache inside PGlite's WebAssembly heap. PGlite's default (128 MB) is
           * touched at start and costs that much resident memory; the state tables' working set is a
           * few MB, and pages not cached are read from the data directory through the OS cache.
           */
          sharedBuffersMb: z.number().int().min(1).max(4096).default(16),
        })
        .prefault({}),
      /** Polling fallback for held calls when a change notification is lost or the listener is down. */
      pollIntervalMs: z.number().int().min(50).max(60_000).default(1000),
      /**
       * How long a caller whose session was read recently may go on while the database is
       * unreachable (0: every call is refused at once, fail closed).
       */
      unavailableGraceSeconds: z.number().int().min(0).max(3600).default(0),
      /** Removed: state replication through Kafka. Still declared only to refuse it with a clear message. */
      kafka: z.unknown().optional(),
    })
    .prefault({}),
  /** Prices that turn a call's tokens into cost (budgets with cost_usd, the audit's cost). */
  pricing: z
    .object({
      /** Checked before the shipped list prices; the first entry whose prefix the model id starts with wins. */
      models: z
        .array(
          z.object({
            prefix: z.string().min(1),
            input: z.number().min(0),
            output: z.number().min(0),
            cacheWrite: z.number().min(0),
            cacheRead: z.number().min(0),
          }),
        )
        .default([]),
    })
    .prefault({}),
  /** Human approval holds (gateway/approvals); approvals live in the state database. */
  approvals: z
    .object({
      /** How long a held call waits for a decision before 403 SLUICE_ERR_APPROVAL_TIMEOUT. */
      holdSeconds: z.number().int().min(0).max(3600).default(300),
      /** Interval of `102 Processing` interim responses that keep a held connection busy. */
      keepAliveSeconds: z.number().int().positive().default(15),
      webhook: z
        .object({
          url: z.url({ protocol: /^https?$/ }).optional(),
          /** Env var holding the URL (Slack URLs are secrets); used when `url` is unset. */
          urlEnv: z.string().optional(),
          format: z.enum(['json', 'slack']).default('json'),
          timeoutMs: z.number().int().positive().default(5000),
        })
        .optional(),
      /** Public base URL of Sluice, for links to the console in notifications. */
      publicUrl: z.url().optional(),
    })
    .prefault({}),
  /** The approver console at /sluice/console (gateway/console): OIDC code flow with PKCE. */
  console: z
    .object({
      enabled: z.boolean().default(false),
      /** Public OIDC client registered for the console (no secret: PKCE protects the code). */
      clientId: z.string().default('sluice-console'),
      /** Public native client for `sluice login` (device grant, loopback redirect): people's CLI sign-in. */
      cliClientId: z.string().default('sluice-cli'),
      /** Authorization server; defaults to identity.issuer (the embedded dev issuer cannot sign people in). */
      issuer: z.url().optional(),
      /** Registered redirect URI; defaults to {approvals.publicUrl or the request's origin}/sluice/console/callback. */
      redirectUrl: z.url().optional(),
      scope: z.string().default('openid'),
      /** Console sign-ins end after this, or when the access token expires, whichever is first. */
      sessionTtlSeconds: z.number().int().positive().default(3600),
    })
    .prefault({}),
  /** Just-in-time sessions (gateway/access), in the state database. */
  sessions: z
    .object({
      /** Idle period after which a session is revoked, unless the policy sets one per group. */
      idleTimeoutSeconds: z.number().int().positive().default(900),
      /** Groups that may list and revoke every session. */
      adminGroups: z.array(z.string()).default(['admins']),
      sweepIntervalSeconds: z.number().int().positive().default(30),
      /**
       * How long the sweeper keeps ended records: revoked sessions (listed, refusing older tokens;
       * never less than the longest token lifetime), finished approvals and access grants.
       */
      retainEndedSeconds: z.number().int().positive().default(86_400),
      /** Time-bounded access grants: who approves them and their longest duration. */
      grants: z
        .object({
          approverGroups: z.array(z.string()).min(1).default(['admins']),
          maxMinutes: z.number().int().positive().default(480),
        })
        .prefault({}),
    })
    .prefault({}),
  inspect: z
    .object({
      /** A content block type Sluice does not know: refuse it (400), or scan every string in it (request-schema.ts). */
      unknownBlocks: z.enum(['refuse', 'scan']).default('refuse'),
    })
    .prefault({}),
  files: z
    .object({
      /** Largest Files API upload, in bytes (the API's own limit is 500 MB); refused with 413 before the upstream. */
      maxUploadBytes: z
        .number()
        .int()
        .positive()
        .default(500 * 1024 * 1024),
      /** Largest text upload read for entities (else `upload.scanned: false`), and text download masked (else 403). */
      maxScanBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1024 * 1024),
    })
    .prefault({}),
  ownership: z
    .object({
      /**
       * An object id Sluice has no owner for (created before Sluice, or elsewhere): `deny` answers 404 before the
       * policy; `allow` lets the policy decide with `resource.owner: null` (for migrations).
       */
      unknownObjects: z.enum(['deny', 'allow']).default('deny'),
    })
    .prefault({}),
  /** Export to an OpenTelemetry collector; off unless telemetry.otlp is set. */
  telemetry: z.object({ otlp: otlpTelemetrySchema.optional() }).prefault({}),
  metrics: z
    .object({
      /** Env var holding a token /metrics then requires as `Authorization: Bearer`; unset: /metrics is open. */
      tokenEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
        .optional(),
      /** How many budgets, those nearest their limit, `sluice_budget_remaining` shows (0: none). */
      budgetKeys: z.number().int().min(0).max(1000).default(20),
    })
    .prefault({}),
  masking: z
    .object({
      /** Env var holding the keyed-hash mask style's key; unset → a random key per process start. */
      hashKeyEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
        .default('SLUICE_MASK_HASH_KEY'),
    })
    .prefault({}),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
});

type ParsedConfig = z.infer<typeof configSchema>;
/** The validated config; the audit file path is always resolved (default under stateDir). */
type AuditFileConfig = Omit<ParsedConfig['audit']['file'], 'path'> & { path: string };
export type SluiceConfig = Readonly<
  Omit<ParsedConfig, 'audit'> & { audit: Omit<ParsedConfig['audit'], 'file'> & { file: AuditFileConfig } }
>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;

/** The codes a configuration problem carries (gateway/errors.ts, README's error table). */
export type ConfigErrorCode = Extract<SluiceErrorCode, `SLUICE_ERR_CONFIG_${string}`>;

/** One configuration problem: `dotted.key: what is wrong`, and its code. */
export interface ConfigProblem {
  readonly code: ConfigErrorCode;
  readonly text: string;
}

const INVALID = 'SLUICE_ERR_CONFIG_INVALID';
const UNKNOWN_KEY = 'SLUICE_ERR_CONFIG_UNKNOWN_KEY';

/**
 * Thrown with every validation problem listed, one dotted key per line, each with its code
 * (a plain string is SLUICE_ERR_CONFIG_INVALID). `sluice` prints them and exits 78 (EX_CONFIG).
 */
export class ConfigError extends Error {
  readonly code = INVALID;
  readonly issues: readonly ConfigProblem[];
  /** The problems' texts, in order. */
  readonly problems: string[];

  constructor(problems: ReadonlyArray<string | ConfigProblem>) {
    const issues = problems.map((p): ConfigProblem => (typeof p === 'string' ? { code: INVALID, text: p } : p));
    super(`invalid Sluice configuration:\n  ${issues.map((i) => `[${i.code}] ${i.text}`).join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
    this.problems = issues.map((i) => i.text);
  }
}

/** True when no issuer is configured: the embedded dev issuer mints the tokens (loopback only). */
export function usesDevIssuer(config: Pick<SluiceConfig, 'identity'>): boolean {
  return !config.identity.issuer && !config.identity.issuers;
}

/** Refuses the embedded dev issuer beyond loopback: it mints tokens for anyone who can reach it. */
export function devIssuerProblem(config: Pick<SluiceConfig, 'identity' | 'listen'>): ConfigProblem | undefined {
  if (!usesDevIssuer(config) || config.identity.devIssuer || isLoopback(config.listen.host)) return undefined;
  const text =
    `identity.issuer: not set, and listen.host ${config.listen.host} is not a loopback address: ` +
    'the embedded dev issuer mints tokens for anyone who can reach it, so it starts only on loopback. ' +
    'Set identity.issuer to your OIDC provider (or identity.devIssuer: true for a container published ' +
    'on the host loopback only)';
  return { code: 'SLUICE_ERR_CONFIG_NO_ISSUER', text };
}

/** Documented env overrides: applied on top of the file so containers need no file edits. */
const ENV_OVERRIDES: ReadonlyArray<[string, string[], (v: string) => unknown]> = [
  ['SLUICE_HOST', ['listen', 'host'], String],
  ['SLUICE_PORT', ['listen', 'port'], Number],
  ['SLUICE_LOG_LEVEL', ['log', 'level'], String],
  ['SLUICE_STATE_DIR', ['stateDir'], String],
  ['SLUICE_OIDC_ISSUER', ['identity', 'issuer'], String],
  ['SLUICE_OIDC_AUDIENCE', ['identity', 'audience'], String],
  ['SLUICE_DEV_ISSUER', ['identity', 'devIssuer'], (v) => v === 'true' || v === '1'],
  ['SLUICE_POLICY_BUNDLE', ['policy', 'bundle'], String],
  ['SLUICE_POLICY_PUBLIC_KEY', ['policy', 'publicKey'], String],
  ['SLUICE_AUDIT_FILE', ['audit', 'file', 'path'], String],
  [
    'SLUICE_KAFKA_BROKERS',
    ['audit', 'kafka', 'brokers'],
    (v) =>
      v
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
  ],
  ['SLUICE_STATE_POSTGRES_URL', ['state', 'postgres', 'url'], String],
];

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, path, convert] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = convert(value);
  }
  return out;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Validates a raw config object (already parsed) with env overrides applied. */
export function resolveConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(['(root): must be a mapping of keys']);
  }
  const withEnv = applyEnv((raw ?? {}) as Record<string, unknown>, env);
  const unknown = unknownKeys(configSchema, withEnv).map((text): ConfigProblem => ({ code: UNKNOWN_KEY, text }));
  const parsed = configSchema.safeParse(withEnv);
  if (!parsed.success) {
    const invalid = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError([...unknown, ...invalid]);
  }
  const config = parsed.data;
  // Unknown keys and the checks below are reported together: a misspelt identity.issuer on a
  // public address names both the typo and the refusal to serve the dev issuer there.
  const problems: Array<string | ConfigProblem> = [...unknown];
  const names = config.connections.map((c) => c.name);
  names.forEach(
    (n, i) => names.indexOf(n) !== i && problems.push(`connections.${i}.name: duplicate connection name "${n}"`),
  );
  if (config.defaultConnection && !names.includes(config.defaultConnection)) {
    problems.push(
      `defaultConnection: "${config.defaultConnection}" is not one of the connections (${names.join(', ')})`,
    );
  }
  const hmac = config.identity.algorithms.filter((a) => a.startsWith('HS'));
  if (hmac.length > 0 && !config.identity.hmacSecretEnv) {
    problems.push(
      `identity.algorithms: ${hmac.join(', ')} need identity.hmacSecretEnv (HMAC is off unless a secret is configured)`,
    );
  }
  const noIssuer = devIssuerProblem(config);
  if (noIssuer) problems.push(noIssuer);
  if (config.state.kafka !== undefined)
    problems.push(
      'state.kafka: removed. Approvals, sessions and grants now live in PostgreSQL: set state.postgres.url ' +
        '(or urlEnv) for several instances sharing state, or delete state.kafka for one instance ' +
        '(the embedded database under stateDir). Kafka stays the audit stream (audit.kafka).',
    );
  const pg = config.state.postgres;
  if (pg && !pg.url && !pg.urlEnv) problems.push('state.postgres: set url, or urlEnv naming an environment variable');
  const trusted = [
    ...(config.identity.issuer ? [{ name: 'default', issuer: config.identity.issuer }] : []),
    ...(config.identity.issuers ?? []),
  ];
  trusted.forEach((t, i) => {
    const at = `identity.issuers.${i - (config.identity.issuer ? 1 : 0)}`;
    if (trusted.findIndex((o) => o.name === t.name) !== i) problems.push(`${at}.name: "${t.name}" is used twice`);
    if (trusted.findIndex((o) => o.issuer === t.issuer) !== i)
      problems.push(`${at}.issuer: ${t.issuer} is configured twice (one token issuer, one set of rules)`);
  });
  if (config.console.enabled && !config.console.issuer && !config.identity.issuer) {
    problems.push(
      'console.enabled: the console signs in through an OIDC provider; set console.issuer or identity.issuer',
    );
  }
  const { polling, bundle } = config.policy;
  if (polling.maxDelaySeconds < polling.minDelaySeconds)
    problems.push(
      `policy.polling.maxDelaySeconds: ${polling.maxDelaySeconds} ` +
        `is below policy.polling.minDelaySeconds (${polling.minDelaySeconds})`,
    );
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(bundle) && !/^https?:\/\/[^/]/i.test(bundle))
    problems.push(`policy.bundle: "${bundle}" is neither a file path nor an http(s) URL`);
  if (problems.length > 0) throw new ConfigError(problems);
  // stateDir holds the audit file unless audit.file.path says otherwise (a stateDir set in the file
  // used to leave the audit in ./.sluice of the working directory).
  const auditFile = config.audit.file.path ?? join(config.stateDir, 'audit', 'audit.jsonl');
  const audit = { ...config.audit, file: { ...config.audit.file, path: auditFile } };
  return deepFreeze({ ...config, audit, defaultConnection: config.defaultConnection ?? names[0] });
}

/** Reads a YAML or JSON config file; a missing path means "embedded defaults". */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  if (!path) return resolveConfig({}, env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`(file): cannot read ${path}: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON, so one parser serves both
  } catch (err) {
    throw new ConfigError([`(file): ${path} is not valid YAML/JSON: ${(err as Error).message}`]);
  }
  return resolveConfig(raw ?? {}, env);
}
