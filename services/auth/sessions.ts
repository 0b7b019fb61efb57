// Sign-in and sessions, stored in PostgreSQL (so every careos process sees them, and they survive
// a restart). The cookie holds a random token; the table holds only its SHA-256, so a leaked
// table cannot be replayed. Owns app_session and login_failure.
import crypto from 'node:crypto';
import type pg from 'pg';
import { TooManyRequests, Unauthorized, ValidationError } from '../errors.ts';
import { withTransaction } from '../db/pool.ts';
import type { Principal } from '../../schemas/api.ts';
import { burnPasswordCheck, verifyPassword } from './passwords.ts';
import { USERS_DDL, findUser, setPassword } from './users.ts';
import { withLock } from '../db/locks.ts';

export const SESSIONS_DDL = `
  create table if not exists app_session (
    token_hash text primary key,
    email text not null references app_user (email) on delete cascade,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    address text
  );
  create index if not exists app_session_email on app_session (email);
  create table if not exists login_failure (
    key text not null,
    at timestamptz not null default now()
  );
  create index if not exists login_failure_key on login_failure (key, at);
`;

export async function migrateAuth(db: pg.Pool): Promise<void> {
  await withLock(db, 'auth', async (client) => {
    await client.query(USERS_DDL);
    await client.query(SESSIONS_DDL);
  });
}

export interface SessionPolicy {
  /** A session unused this long is over. */
  idleMinutes: number;
  /** A session is over this long after sign-in, used or not. */
  absoluteHours: number;
  /** Failed sign-ins allowed per account, and per address, within the window. */
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  failureWindowMinutes: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  idleMinutes: 30, absoluteHours: 12, maxFailuresPerAccount: 5, maxFailuresPerAddress: 20, failureWindowMinutes: 15,
};

function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface SignedIn {
  /** The new session token (the cookie's value). */
  token: string;
  principal: Principal;
}

async function tooMany(db: pg.Pool, key: string, max: number, windowMinutes: number): Promise<number | null> {
  const { rows } = await db.query<{ n: number; oldest: Date | null }>(
    `select count(*)::int as n, min(at) as oldest from login_failure where key = $1 and at > now() - make_interval(mins => $2)`,
    [key, windowMinutes],
  );
  const { n, oldest } = rows[0]!;
  if (n < max || !oldest) return null;
  return Math.max(1, Math.ceil((oldest.getTime() + windowMinutes * 60_000 - Date.now()) / 1000));
}

/**
 * Checks email and password and opens a new session (a fresh token every time, and the session
 * the browser came with, if any, is ended: the id rotates at sign-in). Failures are counted per
 * account and per address; past the limit every attempt is refused until the window passes,
 * whatever the password. The password is never logged or stored.
 */
export async function signIn(
  db: pg.Pool,
  input: { email: string; password: string; address: string; previousToken?: string },
  policy: SessionPolicy = DEFAULT_SESSION_POLICY,
): Promise<SignedIn> {
  const email = input.email.trim().toLowerCase();
  if (!email || !input.password) throw new ValidationError('enter your email and password');
  const accountKey = `account:${email}`;
  const addressKey = `address:${input.address}`;
  const wait =
    (await tooMany(db, accountKey, policy.maxFailuresPerAccount, policy.failureWindowMinutes)) ??
    (await tooMany(db, addressKey, policy.maxFailuresPerAddress, policy.failureWindowMinutes));
  if (wait !== null) {
    throw new TooManyRequests(`too many failed sign-ins; try again in ${Math.ceil(wait / 60)} minute${wait > 60 ? 's' : ''}`, wait);
  }
  const user = await findUser(db, email);
  const ok = user && !user.disabled ? await verifyPassword(input.password, user.passwordHash) : (await burnPasswordCheck(input.password), false);
  if (!ok || !user) {
    await db.query('insert into login_failure (key) values ($1), ($2)', [accountKey, addressKey]);
    await db.query("delete from login_failure where at < now() - interval '1 day'");
    throw new Unauthorized('email or password is wrong');
  }
  const token = crypto.randomBytes(32).toString('base64url');
  await withTransaction(db, async (client) => {
    if (input.previousToken) await client.query('delete from app_session where token_hash = $1', [hashToken(input.previousToken)]);
    await client.query('insert into app_session (token_hash, email, address) values ($1, $2, $3)', [hashToken(token), user.email, input.address]);
    await client.query('update app_user set last_login_at = now() where email = $1', [user.email]);
    await client.query('delete from login_failure where key = $1', [accountKey]);
  });
  return { token, principal: { id: user.email, name: user.name, role: user.role, via: 'session', mustChangePassword: user.mustChangePassword } };
}

/** The user of a session token, or null when it is unknown, expired, or its user is disabled. */
export async function sessionPrincipal(db: pg.Pool, token: string, policy: SessionPolicy = DEFAULT_SESSION_POLICY): Promise<Principal | null> {
  if (!TOKEN.test(token)) return null;
  // One statement: expire, touch (at most once a minute: not a write per request) and read.
  const { rows } = await db.query<{ email: string; name: string; role: Principal['role']; must_change_password: boolean }>(
    `with live as (
       select s.token_hash, s.last_seen_at from app_session s
        where s.token_hash = $1
          and s.last_seen_at > now() - make_interval(mins => $2)
          and s.created_at > now() - make_interval(hours => $3)
     ), touched as (
       update app_session s set last_seen_at = now() from live
        where s.token_hash = live.token_hash and live.last_seen_at < now() - interval '1 minute'
     )
     select u.email, u.name, u.role, u.must_change_password
       from live join app_session s using (token_hash) join app_user u on u.email = s.email
      where u.disabled_at is null`,
    [hashToken(token), policy.idleMinutes, policy.absoluteHours],
  );
  const user = rows[0];
  if (!user) return null;
  return { id: user.email, name: user.name, role: user.role, via: 'session', mustChangePassword: user.must_change_password };
}

export async function signOut(db: pg.Pool, token: string): Promise<void> {
  if (!TOKEN.test(token)) return;
  await db.query('delete from app_session where token_hash = $1', [hashToken(token)]);
}

/**
 * Changes the signed-in user's password (the current one is asked again) and ends every other
 * session of theirs.
 */
export async function changePassword(
  db: pg.Pool,
  input: { email: string; token: string; current: string; next: string },
): Promise<void> {
  const user = await findUser(db, input.email);
  if (!user || user.disabled) throw new Unauthorized('sign in again');
  if (!(await verifyPassword(input.current, user.passwordHash))) throw new ValidationError('current password is wrong');
  if (input.next === input.current) throw new ValidationError('choose a password different from the current one');
  await setPassword(db, user.email, input.next);
  await db.query('delete from app_session where email = $1 and token_hash <> $2', [user.email, hashToken(input.token)]);
}
