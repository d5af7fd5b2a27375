import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ApprovalEventBody } from '../audit/events.ts';
import { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import { approvalEvent, deniedError } from './approval-events.ts';
import { mayDecide, maySeeDecidable } from './authorize.ts';
import type { Approval, ApprovalState, ApprovalStore } from './approval-store.ts';

/** What the gateway knows of a request that needs an approval: the approval's own facts plus its lifetime. */
export type ApprovalRequest = Pick<
  Approval,
  | 'subject'
  | 'requesterGroups'
  | 'connection'
  | 'operation'
  | 'model'
  | 'bodySha256'
  | 'reason'
  | 'labels'
  | 'findings'
  | 'approverGroups'
  | 'decisionId'
> & {
  readonly ttlSeconds: number;
  /** The prompt as the approver may see it (redacted by the gate); kept in memory only. */
  readonly preview?: string;
};

/** The request a presented approval id must match exactly. */
export interface PresentedRequest {
  readonly subject: string;
  readonly connection: string;
  readonly operation: string;
  readonly bodySha256: string;
}

/** Called once per new pending approval (webhook); must not throw. */
export type PendingListener = (approval: Approval) => void;

/**
 * The approval rules, independent of HTTP: create, decide, wait, match a resubmission, use once,
 * expire. Every state change goes through the store's compare-and-set and leaves an audit event.
 */
export class ApprovalService {
  // Aborted on shutdown: held callers are answered at once instead of blocking the close.
  readonly #closing = new AbortController();
  // Prompt previews for the console, never persisted: raw content is written nowhere, and
  // after a restart an approver sees the findings and rule but no longer the text.
  readonly #previews = new Map<string, string>();

  constructor(
    readonly store: ApprovalStore,
    private readonly audit: AuditLog,
    private readonly onPending: PendingListener = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates a pending approval for a held request and announces it. */
  async request(req: ApprovalRequest): Promise<Approval> {
    const created = this.now();
    const approval: Approval = {
      id: `apr_${randomBytes(12).toString('base64url')}`,
      state: 'pending',
      subject: req.subject,
      requesterGroups: req.requesterGroups,
      connection: req.connection,
      operation: req.operation,
      model: req.model,
      bodySha256: req.bodySha256,
      reason: req.reason,
      labels: req.labels,
      findings: req.findings,
      approverGroups: req.approverGroups,
      decisionId: req.decisionId,
      createdAt: created.toISOString(),
      expiresAt: new Date(created.getTime() + req.ttlSeconds * 1000).toISOString(),
      verdict: null,
      usedAt: null,
      usedByDecisionId: null,
    };
    await this.store.create(approval);
    if (req.preview !== undefined) this.#previews.set(approval.id, req.preview);
    this.#record(approval, 'requested', null, null, req.decisionId);
    this.onPending(approval);
    return approval;
  }

  /** The approval, expired first if its time ran out (so callers never see a stale state). */
  async get(id: string): Promise<Approval | undefined> {
    const approval = await this.store.get(id);
    return approval && (await this.#expireIfDue(approval));
  }

  /** The in-memory prompt preview of a still-pending approval, if this instance holds one. */
  previewOf(id: string): string | undefined {
    return this.#previews.get(id);
  }

  /** Approvals `who` may decide or has requested, newest first (expired ones updated). */
  async visibleTo(who: Identity, state?: ApprovalState): Promise<Approval[]> {
    const all = await Promise.all((await this.store.list()).map((a) => this.#expireIfDue(a)));
    return all.filter((a) => (state === undefined || a.state === state) && maySeeDecidable(who, a));
  }

  /** Approves or denies a pending approval on behalf of `approver`. */
  async decide(id: string, approver: Identity, verdict: 'approve' | 'deny', comment: string): Promise<Approval> {
    const approval = await this.get(id);
    if (!approval) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no approval ${id}`);
    if (approval.subject === approver.sub)
      throw new SluiceError('SLUICE_ERR_FORBIDDEN', `approval ${id}: you cannot decide your own request`);
    if (!mayDecide(approver, approval)) {
      throw new SluiceError(
        'SLUICE_ERR_FORBIDDEN',
        `approval ${id}: only members of ${approval.approverGroups.join(', ')} may decide it`,
      );
    }
    const state = verdict === 'approve' ? 'approved' : 'denied';
    const next = await this.store.transition(id, 'pending', {
      state,
      verdict: { approver: approver.sub, approverGroups: approver.groups, at: this.now().toISOString(), comment },
    });
    if (!next) {
      // Another approver (on any instance) won: name the verdict that stands.
      const won = (await this.store.get(id)) ?? approval;
      // The verdict, even once the approved call has used it (or it expired since).
      const verdict = won.verdict ? (won.state === 'denied' ? 'denied' : 'approved') : won.state;
      const by = won.verdict ? ` by ${won.verdict.approver}` : '';
      const now = won.state === verdict ? '' : ` (now ${won.state})`;
      throw new SluiceError('SLUICE_ERR_CONFLICT', `approval ${id} was already ${verdict}${by}${now}, not pending`);
    }
    this.#previews.delete(id);
    this.#record(next, state, approver.sub, comment, null);
    return next;
  }

  /**
   * Resolves with the approval once it leaves `pending`, or with the pending one after
   * `timeoutMs` or when `signal` aborts. Expiry during the wait counts as leaving pending.
   */
  async waitFor(id: string, timeoutMs: number, signal: AbortSignal): Promise<Approval> {
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const done = (): void => {
        finished = true;
        unwatch();
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#closing.signal.removeEventListener('abort', done);
        resolve();
      };
      // Watch first, then read: a decision landing in between is seen by one or the other.
      const unwatch = this.store.watch((a) => a.id === id && a.state !== 'pending' && done());
      if (signal.aborted || this.#closing.signal.aborted) return done();
      signal.addEventListener('abort', done, { once: true });
      this.#closing.signal.addEventListener('abort', done, { once: true });
      void this.store.get(id).then((a) => {
        if (finished) return;
        if (!a || a.state !== 'pending') return done();
        const untilExpiry = Date.parse(a.expiresAt) - this.now().getTime();
        timer = setTimeout(done, Math.max(0, Math.min(timeoutMs, untilExpiry)));
      });
    });
    const approval = await this.get(id);
    if (!approval) throw new SluiceError('SLUICE_ERR_APPROVAL_INVALID', `approval ${id} no longer exists`);
    return approval;
  }

  /**
   * Checks an `x-sluice-approval-id` resubmission: same subject, connection, operation and body
   * hash, and still usable. Returns the approval (approved or still pending); throws 403 otherwise.
   */
  async matchPresented(id: string, req: PresentedRequest): Promise<Approval> {
    const approval = await this.get(id);
    // One message for unknown, foreign and mismatched ids: a caller learns nothing about others' approvals.
    const invalid = (why: string): SluiceError =>
      new SluiceError('SLUICE_ERR_APPROVAL_INVALID', `approval ${id} does not fit this request (${why})`);
    if (!approval || approval.subject !== req.subject) throw invalid('unknown approval or another subject');
    if (approval.connection !== req.connection || approval.operation !== req.operation)
      throw invalid('another connection or operation');
    if (approval.bodySha256 !== req.bodySha256) throw invalid('the body differs from the one submitted for approval');
    switch (approval.state) {
      case 'approved':
      case 'pending':
        return approval;
      case 'used':
        throw new SluiceError(
          'SLUICE_ERR_APPROVAL_INVALID',
          `approval ${id} was already used; an approval releases one request`,
        );
      case 'expired':
        throw new SluiceError('SLUICE_ERR_APPROVAL_EXPIRED', `approval ${id} expired at ${approval.expiresAt}`);
      case 'denied':
        throw deniedError(approval);
    }
  }

  /** Marks an approved approval used by exchange `decisionId`; fails if it was used meanwhile. */
  async use(id: string, decisionId: string): Promise<Approval> {
    const next = await this.store.transition(id, 'approved', {
      state: 'used',
      usedAt: this.now().toISOString(),
      usedByDecisionId: decisionId,
    });
    if (!next)
      throw new SluiceError(
        'SLUICE_ERR_APPROVAL_INVALID',
        `approval ${id} is no longer usable (used or expired meanwhile)`,
      );
    this.#record(next, 'used', null, null, decisionId);
    return next;
  }

  /** Ends every hold now (shutdown); the approvals stay as they are, resubmission still works. */
  releaseHolds(): void {
    this.#closing.abort();
  }

  /** Expires every pending or approved approval whose time ran out (called by a sweeper). */
  async expireDue(): Promise<number> {
    const due = await this.store.list({ dueBy: this.now() });
    const after = await Promise.all(due.map((a) => this.#expireIfDue(a)));
    return after.filter((a, i) => a.state !== due[i]!.state).length;
  }

  /** Forgets denied, expired and used approvals last changed before `before` (their events stay in the audit). */
  pruneFinished(before: Date): Promise<number> {
    return this.store.pruneEnded(before);
  }

  async #expireIfDue(approval: Approval): Promise<Approval> {
    if (
      (approval.state !== 'pending' && approval.state !== 'approved') ||
      Date.parse(approval.expiresAt) > this.now().getTime()
    )
      return approval;
    const next = await this.store.transition(approval.id, approval.state, { state: 'expired' });
    if (!next) return (await this.store.get(approval.id)) ?? approval;
    this.#previews.delete(approval.id);
    this.#record(next, 'expired', null, null, null);
    return next;
  }

  #record(
    a: Approval,
    state: ApprovalEventBody['state'],
    actor: string | null,
    comment: string | null,
    decisionId: string | null,
  ): void {
    this.audit.record(approvalEvent(a, state, { actor, comment, decisionId, at: this.now() }));
  }
}
