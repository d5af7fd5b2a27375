import type { OwnershipStore } from '../access/ownership.ts';
import type { ApprovalGate } from '../approvals/approval-stage.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SessionService } from '../access/session-service.ts';
import type { TokenVerifier } from '../identity/identity.ts';
import type { UnknownBlocks } from '../inspect/request-schema.ts';
import type { SessionNumberings } from '../mask/placeholder-numbering.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import type { ConnectionRegistry } from '../upstream/connections.ts';
import type { PriceTable } from '../usage/prices.ts';
import type { UsageStore } from '../usage/usage-store.ts';
import type { BatchDeps } from '../batches/batch-store.ts';
import type { ExchangeSummary } from './exchange-record.ts';
import type { UnknownObjects } from './ownership-stage.ts';

/** What the proxy route needs; all injected by buildApp so tests can pass real or stand-in parts. */
export interface ProxyDeps extends BatchDeps {
  readonly verifier: TokenVerifier;
  readonly policies: PolicyStore;
  readonly connections: ConnectionRegistry;
  readonly audit: AuditLog;
  /** `strict`: the exchange record is written before the answer's last byte (config audit.durability). */
  readonly auditDurability: 'relaxed' | 'strict';
  readonly bodyLimit: number;
  /** Largest upstream answer relayed (config `limits.responseBytes`). */
  readonly responseBytes: number;
  /** Key of the keyed-hash mask style (config `masking.hashKeyEnv`). */
  readonly maskHashKey: Buffer;
  /** Placeholder numbers per JIT session, so `[EMAIL_1]` means the same value across the session's calls. */
  readonly placeholderNumbering: SessionNumberings;
  readonly approvals: ApprovalGate;
  readonly sessions: SessionService;
  /** Owners of the objects created through Sluice (files…): the ownership stage reads, creates and deletes record. */
  readonly ownership: OwnershipStore;
  /** Config `files`: the largest upload (413 above it, before the upstream) and the largest text upload scanned. */
  readonly files: { readonly maxUploadBytes: number; readonly maxScanBytes: number; readonly spoolDir: string };
  /** Config `ownership.unknownObjects`: an id with no recorded owner is refused (404) or left to the policy. */
  readonly unknownObjects: UnknownObjects;
  /** Counts finished calls for /metrics (gateway/ops' RequestMetrics). */
  readonly metrics?: { observe(call: ExchangeSummary): void };
  /** Usage counters for the budgets the policy sets, and the prices that turn tokens into cost. */
  readonly usage: UsageStore;
  readonly prices: PriceTable;
  /** Config `inspect.unknownBlocks`: refuse (default) or scan a content block type Sluice does not know. */
  readonly unknownBlocks?: UnknownBlocks;
}
