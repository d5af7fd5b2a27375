import type { ConsoleSession, ConsoleSignInStore } from '../console/console-sessions.ts';
import type { PendingLogin } from '../console/oidc-login.ts';
import type { StateDb } from './state-db.ts';

/** Console sign-ins in the state database: any instance can finish a login or serve a session. */
export class SqlConsoleStore implements ConsoleSignInStore {
  constructor(private readonly db: StateDb) {}

  async putLogin(state: string, login: PendingLogin, expiresAt: number): Promise<void> {
    await this.db.query('INSERT INTO console_logins (state, expires_at, doc) VALUES ($1, $2, $3::jsonb)', [
      state,
      new Date(expiresAt).toISOString(),
      JSON.stringify(login),
    ]);
  }

  async takeLogin(state: string, now: number): Promise<PendingLogin | undefined> {
    // DELETE … RETURNING: of two callbacks with one state, exactly one gets the login.
    const [row] = await this.db.query<{ doc: PendingLogin }>(
      'DELETE FROM console_logins WHERE state = $1 AND expires_at > $2 RETURNING doc',
      [state, new Date(now).toISOString()],
    );
    return row?.doc;
  }

  async putSession(key: string, session: Omit<ConsoleSession, 'id'>): Promise<void> {
    await this.db.query('INSERT INTO console_sessions (id, expires_at, doc) VALUES ($1, $2, $3::jsonb)', [
      key,
      new Date(session.expiresAt).toISOString(),
      JSON.stringify(session),
    ]);
  }

  async getSession(key: string, now: number): Promise<Omit<ConsoleSession, 'id'> | undefined> {
    const [row] = await this.db.query<{ doc: Omit<ConsoleSession, 'id'> }>(
      'SELECT doc FROM console_sessions WHERE id = $1 AND expires_at > $2',
      [key, new Date(now).toISOString()],
    );
    return row?.doc;
  }

  async deleteSession(key: string): Promise<void> {
    await this.db.query('DELETE FROM console_sessions WHERE id = $1', [key]);
  }

  async pruneExpired(now: number): Promise<void> {
    const at = new Date(now).toISOString();
    await this.db.query('DELETE FROM console_logins WHERE expires_at <= $1', [at]);
    await this.db.query('DELETE FROM console_sessions WHERE expires_at <= $1', [at]);
  }
}
