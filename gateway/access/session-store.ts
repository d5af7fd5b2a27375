/** Why a session ended: it sat idle too long, or someone revoked it. */
export type RevokeCause = 'idle' | 'admin';

/**
 * A just-in-time session of one subject on one connection. It opens on first use and is
 * revoked after `idleTimeoutSeconds` without a request or by an administrator; a revoked
 * session refuses every token issued before `revokedAt`.
 */
export interface JitSession {
  readonly id: string;
  readonly subject: string;
  readonly connection: string;
  readonly state: 'active' | 'revoked';
  readonly openedAt: string;
  readonly lastSeenAt: string;
  readonly requests: number;
  readonly idleTimeoutSeconds: number;
  readonly revokedAt: string | null;
  readonly revokedCause: RevokeCause | null;
  readonly revokedBy: string | null;
}

/**
 * Where sessions live, shared by every instance. At most one session per subject and
 * connection is active; every change that races (open, revoke) is decided by the store.
 */
export interface SessionStore {
  get(id: string): Promise<JitSession | undefined>;
  /** The newest session of `subject` on `connection`, active or revoked. */
  latest(subject: string, connection: string): Promise<JitSession | undefined>;
  list(): Promise<JitSession[]>;
  /**
   * Opens `session` unless the subject already has an active one on the connection (opened
   * meanwhile by another call or instance): then that one is returned with `opened` false.
   */
  open(session: JitSession): Promise<{ readonly session: JitSession; readonly opened: boolean }>;
  /** Revokes an active session; undefined when it is not active (revoked meanwhile). */
  revoke(
    id: string,
    revocation: { readonly at: string; readonly cause: RevokeCause; readonly by: string | null },
  ): Promise<JitSession | undefined>;
  /** Revokes every active session idle past its timeout as of `now`, each as of when it became idle. */
  revokeIdle(now: Date): Promise<JitSession[]>;
  setIdleTimeout(id: string, seconds: number): Promise<void>;
  /**
   * Counts one request at `at` (ISO time) and returns `session` as it is now. Reaches the
   * database a fraction of a second later, batched: a late touch only makes the session look
   * idle sooner (the safe direction), and the counts still add up (they are increments).
   */
  touch(session: JitSession, at: string): JitSession;
  /** Forgets sessions revoked before `before`; returns how many. */
  pruneRevoked(before: Date): Promise<number>;
  close(): Promise<void>;
}
