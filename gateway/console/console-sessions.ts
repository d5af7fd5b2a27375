import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../identity/identity.ts';
import type { PendingLogin } from './oidc-login.ts';

/** A signed-in console user: who, until when, and the CSRF token their forms must carry. */
export interface ConsoleSession {
  readonly id: string;
  readonly identity: Identity;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

/**
 * Where console sign-ins live, shared by every instance (a console behind a load balancer
 * needs no sticky sessions). Keys are digests of the cookie value, never the value itself.
 */
export interface ConsoleSignInStore {
  putLogin(state: string, login: PendingLogin, expiresAt: number): Promise<void>;
  /** Takes a started login once, on whichever instance the callback reaches; undefined when gone or expired. */
  takeLogin(state: string, now: number): Promise<PendingLogin | undefined>;
  putSession(key: string, session: Omit<ConsoleSession, 'id'>): Promise<void>;
  getSession(key: string, now: number): Promise<Omit<ConsoleSession, 'id'> | undefined>;
  deleteSession(key: string): Promise<void>;
  /** Forgets expired logins and sessions. */
  pruneExpired(now: number): Promise<void>;
}

const LOGIN_TTL_MS = 10 * 60_000;

/**
 * Console sign-ins, server-side: the cookie holds only a random id, never a token, so nothing
 * a browser stores can be replayed against the API, and the store keeps only its sha256.
 */
export class ConsoleSessions {
  constructor(
    private readonly store: ConsoleSignInStore,
    private readonly ttlMs: number,
  ) {}

  /** Remembers a started login under its `state` (10 minutes). */
  async addLogin(pending: PendingLogin): Promise<void> {
    const now = Date.now();
    await this.store.pruneExpired(now);
    await this.store.putLogin(pending.state, pending, now + LOGIN_TTL_MS);
  }

  /** Takes (once) the login started with `state`. */
  takeLogin(state: string): Promise<PendingLogin | undefined> {
    return this.store.takeLogin(state, Date.now());
  }

  async open(identity: Identity, tokenExpiresAt: number): Promise<ConsoleSession> {
    const session = {
      id: randomBytes(32).toString('base64url'),
      identity,
      csrfToken: randomBytes(32).toString('base64url'),
      expiresAt: Math.min(Date.now() + this.ttlMs, tokenExpiresAt),
    };
    const { id, ...stored } = session;
    await this.store.putSession(keyOf(id), stored);
    return session;
  }

  async get(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (id === undefined) return undefined;
    const stored = await this.store.getSession(keyOf(id), Date.now());
    return stored && { id, ...stored };
  }

  close(id: string): Promise<void> {
    return this.store.deleteSession(keyOf(id));
  }

  /** Constant-time check of a submitted CSRF token against the session's. */
  static csrfMatches(session: ConsoleSession, submitted: unknown): boolean {
    if (typeof submitted !== 'string') return false;
    const a = Buffer.from(session.csrfToken);
    const b = Buffer.from(submitted);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

function keyOf(cookieValue: string): string {
  return createHash('sha256').update(cookieValue).digest('base64url');
}
