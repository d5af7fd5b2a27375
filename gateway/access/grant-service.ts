import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { GrantAccessEventBody } from '../audit/events.ts';
import { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { AccessGrant, GrantStore } from './grant-store.ts';
import { mayDecide, maySeeDecidable } from './authorize.ts';

/** Settings for grants (config `sessions.grants`). */
export interface GrantOptions {
  readonly approverGroups: readonly string[];
  readonly maxMinutes: number;
  /** The configured connection names: a grant for any other would be approved for nothing. */
  readonly connections: readonly string[];
}

/**
 * Time-bounded access grants: requested by a subject for a connection, approved or denied by
 * another member of an approver group, active until they expire or are revoked. Every change
 * is audited (`kind: "grant"`).
 */
export class GrantService {
  constructor(
    readonly store: GrantStore,
    private readonly audit: AuditLog,
    private readonly options: GrantOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async request(who: Identity, connection: string, durationMinutes: number, reason: string): Promise<AccessGrant> {
    if (!this.options.connections.includes(connection)) {
      throw new SluiceError('SLUICE_ERR_UNKNOWN_CONNECTION', `unknown connection "${connection}"`);
    }
    if (durationMinutes > this.options.maxMinutes)
      throw new SluiceError('SLUICE_ERR_BAD_REQUEST', `duration_minutes may be at most ${this.options.maxMinutes}`);
    const grant = await this.store.create({
      id: `grt_${randomBytes(12).toString('base64url')}`,
      state: 'requested',
      subject: who.sub,
      connection,
      durationMinutes,
      reason,
      approverGroups: this.options.approverGroups,
      requestedAt: this.now().toISOString(),
      decidedAt: null,
      decidedBy: null,
      comment: null,
      expiresAt: null,
    });
    this.#record(grant, 'requested', who.sub);
    return grant;
  }

  async decide(id: string, who: Identity, verdict: 'approve' | 'deny', comment: string): Promise<AccessGrant> {
    const grant = await this.get(id);
    if (!grant) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no grant ${id}`);
    if (!mayDecide(who, grant))
      throw new SluiceError(
        'SLUICE_ERR_FORBIDDEN',
        `grant ${id}: only another member of ${grant.approverGroups.join(', ')} may decide it`,
      );
    const at = this.now();
    const state = verdict === 'approve' ? 'approved' : 'denied';
    const expiresAt =
      verdict === 'approve' ? new Date(at.getTime() + grant.durationMinutes * 60_000).toISOString() : null;
    const next = await this.store.transition(id, 'requested', {
      state,
      decidedAt: at.toISOString(),
      decidedBy: who.sub,
      comment,
      expiresAt,
    });
    if (!next) throw new SluiceError('SLUICE_ERR_CONFLICT', `grant ${id} is ${grant.state}, not requested`);
    this.#record(next, state, who.sub);
    return next;
  }

  /** Ends an approved grant early (the holder or an approver). */
  async revoke(id: string, who: Identity): Promise<AccessGrant> {
    const grant = await this.get(id);
    if (!grant) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no grant ${id}`);
    if (grant.subject !== who.sub && !who.groups.some((g) => grant.approverGroups.includes(g)))
      throw new SluiceError('SLUICE_ERR_FORBIDDEN', `you may not revoke grant ${id}`);
    const next = await this.store.transition(id, 'approved', { state: 'revoked', decidedBy: who.sub });
    if (!next) throw new SluiceError('SLUICE_ERR_CONFLICT', `grant ${id} is ${grant.state}, not approved`);
    this.#record(next, 'revoked', who.sub);
    return next;
  }

  async get(id: string): Promise<AccessGrant | undefined> {
    const grant = await this.store.get(id);
    return grant && this.#expireIfDue(grant);
  }

  /** Grants `who` holds or may decide (approvers see all of their groups'), newest first. */
  async visibleTo(who: Identity): Promise<AccessGrant[]> {
    const all = await Promise.all((await this.store.list()).map((g) => this.#expireIfDue(g)));
    return all.filter((g) => maySeeDecidable(who, g));
  }

  /** Connections `subject` holds an active grant for: `input.session.grants`. */
  async activeFor(subject: string): Promise<string[]> {
    const mine = (await this.store.listFor(subject)).filter((g) => g.state === 'approved');
    const active = await Promise.all(mine.map((g) => this.#expireIfDue(g)));
    return [...new Set(active.filter((g) => g.state === 'approved').map((g) => g.connection))].sort();
  }

  /** Forgets denied, revoked and expired grants last changed before `before` (their events stay in the audit). */
  pruneFinished(before: Date): Promise<number> {
    return this.store.pruneEnded(before);
  }

  async #expireIfDue(grant: AccessGrant): Promise<AccessGrant> {
    if (grant.state !== 'approved' || Date.parse(grant.expiresAt!) > this.now().getTime()) return grant;
    const next = await this.store.transition(grant.id, 'approved', { state: 'expired' });
    if (!next) return (await this.store.get(grant.id)) ?? grant;
    this.#record(next, 'expired', null);
    return next;
  }

  #record(g: AccessGrant, state: GrantAccessEventBody['state'], actor: string | null): void {
    this.audit.record({
      kind: 'access',
      object: 'grant',
      grant_id: g.id,
      state,
      timestamp: this.now().toISOString(),
      subject: g.subject,
      connection: g.connection,
      actor,
      reason: g.reason,
      comment: g.comment,
      expires_at: g.expiresAt,
    });
  }
}
