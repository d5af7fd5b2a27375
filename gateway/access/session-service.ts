import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { SessionFacts } from '../policy/input.ts';
import type { GrantService } from './grant-service.ts';
import type { JitSession, RevokeCause, SessionStore } from './session-store.ts';

/** A session as the proxy sees it on entry: the record and the facts the policy gets. */
export interface SessionEntry {
  readonly session: JitSession;
  readonly facts: SessionFacts;
}

/** Optional parts of the session service. */
export interface SessionServiceOptions {
  /** Time-bounded access grants, whose active connections the policy sees in `session.grants`. */
  readonly grants?: GrantService;
  /** How long a recently seen caller may go on while the database is unreachable (0: not at all). */
  readonly unavailableGraceMs?: number;
  readonly now?: () => Date;
}

/**
 * Just-in-time sessions: opened on first use per (subject, connection), revoked after an idle
 * period or by an administrator. After a revocation, only tokens issued later open a new
 * session: a stolen or cached token cannot outlive the session it belonged to.
 */
export class SessionService {
  /** The idle timeout each recently seen session has in the store, so an unchanged one is not rewritten. */
  readonly #idleTimeouts = new LRUCache<string, number>({ max: 10_000 });

  /** The last entry of each recent caller, for the grace period while the database is unreachable. */
  readonly #recent = new LRUCache<string, { entry: SessionEntry; at: number }>({ max: 10_000 });
  readonly grants: GrantService | undefined;
  readonly #unavailableGraceMs: number;
  readonly #now: () => Date;

  constructor(
    readonly store: SessionStore,
    private readonly audit: AuditLog,
    private readonly defaultIdleSeconds: number,
    options: SessionServiceOptions = {},
  ) {
    this.grants = options.grants;
    this.#unavailableGraceMs = options.unavailableGraceMs ?? 0;
    this.#now = options.now ?? (() => new Date());
  }

  private now(): Date {
    return this.#now();
  }

  /**
   * The session stage: finds or opens the caller's session, refuses a token issued before its
   * revocation (401), and counts the request.
   */
  async enter(identity: Identity, connection: string): Promise<SessionEntry> {
    const key = `${identity.sub}\u0000${connection}`;
    try {
      const entry = await this.#enter(identity, connection);
      if (this.#unavailableGraceMs > 0) this.#recent.set(key, { entry, at: Date.now() });
      return entry;
    } catch (err) {
      // Database unreachable: a caller seen within the grace period goes on with what was read then.
      const recent = this.#recent.get(key);
      if (
        err instanceof SluiceError &&
        err.code === 'SLUICE_ERR_STATE_UNAVAILABLE' &&
        recent &&
        Date.now() - recent.at <= this.#unavailableGraceMs
      )
        return recent.entry;
      throw err;
    }
  }

  async #enter(identity: Identity, connection: string): Promise<SessionEntry> {
    const now = this.now();
    let session = await this.store.latest(identity.sub, connection);
    if (session?.state === 'active') session = await this.#revokeIfIdle(session, now);
    if (session?.state === 'revoked') {
      // iat has second precision: a token from the same second as the revocation is refused too.
      if (identity.issuedAt * 1000 <= Date.parse(session.revokedAt!)) {
        const why =
          session.revokedCause === 'idle'
            ? `after ${session.idleTimeoutSeconds}s idle`
            : `by ${session.revokedBy ?? 'an administrator'}`;
        throw new SluiceError(
          'SLUICE_ERR_SESSION_REVOKED',
          `your session ${session.id} on "${connection}" was revoked ${why} at ${session.revokedAt}: ` +
            'sign in again to get a new token, then retry',
        );
      }
      session = undefined;
    }
    session ??= await this.#open(identity.sub, connection, now);
    const before = session;
    const touched = this.store.touch(session, now.toISOString());
    this.#idleTimeouts.set(touched.id, touched.idleTimeoutSeconds);
    return {
      session: touched,
      facts: {
        id: touched.id,
        age_seconds: Math.floor((now.getTime() - Date.parse(touched.openedAt)) / 1000),
        idle_seconds: Math.floor((now.getTime() - Date.parse(before.lastSeenAt)) / 1000),
        requests: touched.requests,
        grants: this.grants ? await this.grants.activeFor(identity.sub) : [],
      },
    };
  }

  /** Applies the policy's idle timeout for the caller's groups (when it sets one). */
  async setIdleTimeout(id: string, seconds: number | undefined): Promise<void> {
    // Most calls set the timeout the session already has: no write for those.
    if (seconds === undefined || this.#idleTimeouts.get(id) === seconds) return;
    await this.store.setIdleTimeout(id, seconds);
    this.#idleTimeouts.set(id, seconds);
  }

  /** Revokes a session now, on behalf of `actor`. */
  async revoke(id: string, actor: string): Promise<JitSession> {
    const current = await this.store.get(id);
    if (!current) throw new SluiceError('SLUICE_ERR_NOT_FOUND', `no session ${id}`);
    const next = await this.#revoke(current, 'admin', this.now(), actor);
    if (!next) throw new SluiceError('SLUICE_ERR_CONFLICT', `session ${id} is already revoked`);
    return next;
  }

  /** Every session, idle ones revoked first so the list is current. */
  async list(): Promise<JitSession[]> {
    await this.sweep();
    return this.store.list();
  }

  /** Revokes every active session that has been idle past its timeout; returns how many. */
  async sweep(): Promise<number> {
    const revoked = await this.store.revokeIdle(this.now());
    for (const s of revoked) this.#record(s, 'revoked', 'idle', null, new Date(s.revokedAt!));
    return revoked.length;
  }

  /**
   * Forgets sessions revoked before `before` (their access events stay in the audit). The
   * caller keeps `before` past the longest token lifetime: a pruned revocation no longer refuses
   * older tokens, so none may still be valid.
   */
  pruneRevoked(before: Date): Promise<number> {
    return this.store.pruneRevoked(before);
  }

  async #open(subject: string, connection: string, now: Date): Promise<JitSession> {
    const { session, opened } = await this.store.open({
      id: `ses_${randomBytes(12).toString('base64url')}`,
      subject,
      connection,
      state: 'active',
      openedAt: now.toISOString(),
      lastSeenAt: now.toISOString(),
      requests: 0,
      idleTimeoutSeconds: this.defaultIdleSeconds,
      revokedAt: null,
      revokedCause: null,
      revokedBy: null,
    });
    // Opened meanwhile by another call or instance: that one is the session, and it recorded the opening.
    if (opened) this.#record(session, 'opened', null, null, now);
    return session;
  }

  async #revokeIfIdle(s: JitSession, now: Date): Promise<JitSession> {
    const idleEnds = Date.parse(s.lastSeenAt) + s.idleTimeoutSeconds * 1000;
    if (idleEnds > now.getTime()) return s;
    // Revoked as of the moment it became idle: a token issued after that opens a new session.
    return (await this.#revoke(s, 'idle', new Date(idleEnds), null)) ?? ((await this.store.get(s.id)) as JitSession);
  }

  async #revoke(s: JitSession, cause: RevokeCause, at: Date, actor: string | null): Promise<JitSession | undefined> {
    const next = await this.store.revoke(s.id, { at: at.toISOString(), cause, by: actor });
    if (next) this.#record(next, 'revoked', cause, actor, at);
    return next;
  }

  #record(s: JitSession, state: 'opened' | 'revoked', cause: RevokeCause | null, actor: string | null, at: Date): void {
    this.audit.record({
      kind: 'access',
      object: 'session',
      session_id: s.id,
      state,
      timestamp: at.toISOString(),
      subject: s.subject,
      connection: s.connection,
      cause,
      actor,
    });
  }
}
