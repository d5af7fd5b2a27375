import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../identity/identity.ts';
import type { PendingLogin } from './oidc-login.ts';

/** A signed-in console user: who, until when, and the CSRF token their forms must carry. */
export interface ConsoleSession {
  readonly id: string;
  readonly identity: Identity;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

const LOGIN_TTL_MS = 10 * 60_000;

/**
 * Console sign-ins, server-side and in memory: the cookie holds only a random id, never a token,
 * so nothing a browser stores can be replayed against the API. A restart signs everyone out
 * (they sign in again through the provider); approval state itself is durable elsewhere.
 */
export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #logins = new Map<string, PendingLogin & { expiresAt: number }>();

  constructor(private readonly ttlMs: number) {}

  /** Remembers a started login under its `state` (10 minutes). */
  addLogin(pending: PendingLogin): void {
    this.#prune();
    this.#logins.set(pending.state, { ...pending, expiresAt: Date.now() + LOGIN_TTL_MS });
  }

  /** Takes (once) the login started with `state`. */
  takeLogin(state: string): PendingLogin | undefined {
    const login = this.#logins.get(state);
    this.#logins.delete(state);
    return login && login.expiresAt > Date.now() ? login : undefined;
  }

  open(identity: Identity, tokenExpiresAt: number): ConsoleSession {
    const session = {
      id: randomBytes(32).toString('base64url'),
      identity,
      csrfToken: randomBytes(32).toString('base64url'),
      expiresAt: Math.min(Date.now() + this.ttlMs, tokenExpiresAt),
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): ConsoleSession | undefined {
    const session = id === undefined ? undefined : this.#sessions.get(id);
    if (session && session.expiresAt <= Date.now()) {
      this.#sessions.delete(session.id);
      return undefined;
    }
    return session;
  }

  close(id: string): void {
    this.#sessions.delete(id);
  }

  /** Constant-time check of a submitted CSRF token against the session's. */
  static csrfMatches(session: ConsoleSession, submitted: unknown): boolean {
    if (typeof submitted !== 'string') return false;
    const a = Buffer.from(session.csrfToken);
    const b = Buffer.from(submitted);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #prune(): void {
    const now = Date.now();
    for (const [state, login] of this.#logins) if (login.expiresAt <= now) this.#logins.delete(state);
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
  }
}
