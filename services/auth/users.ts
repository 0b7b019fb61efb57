// Console users: email, display name, role, scrypt password hash. Owns the app_user table.
import type pg from 'pg';
import { Conflict, NotFound, ValidationError } from '../errors.ts';
import { withTransaction } from '../db/pool.ts';
import { ROLES, type Role, type UserView } from '../../schemas/api.ts';
import { generatePassword, hashPassword, passwordProblem } from './passwords.ts';
import { lockForTransaction } from '../db/locks.ts';

export const USERS_DDL = `
  create table if not exists app_user (
    email text primary key,
    name text not null,
    role text not null check (role in ('admin', 'bi', 'auditor')),
    password_hash text not null,
    must_change_password boolean not null default false,
    disabled_at timestamptz,
    created_at timestamptz not null default now(),
    last_login_at timestamptz
  );
`;

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function normaliseEmail(email: string): string {
  const value = email.trim().toLowerCase();
  if (!EMAIL.test(value) || value.length > 254) throw new ValidationError(`email "${email}" is not an email address`);
  return value;
}

function checkName(name: string): string {
  const value = name.trim();
  if (!value) throw new ValidationError('a display name is required (--name)');
  if (value.length > 100) throw new ValidationError('display name must have at most 100 characters');
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new ValidationError('display name must not hold control characters');
  return value;
}

export function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new ValidationError(`role must be one of: ${ROLES.join(', ')} (got "${role}")`);
  return role as Role;
}

export interface UserRecord extends UserView {
  passwordHash: string;
}

type UserRow = {
  email: string; name: string; role: Role; password_hash: string; must_change_password: boolean;
  disabled_at: Date | null; created_at: Date; last_login_at: Date | null;
};

function toRecord(r: UserRow): UserRecord {
  return {
    email: r.email, name: r.name, role: r.role, disabled: r.disabled_at !== null, mustChangePassword: r.must_change_password,
    createdAt: r.created_at.toISOString(), lastLoginAt: r.last_login_at ? r.last_login_at.toISOString() : null, passwordHash: r.password_hash,
  };
}

export function toUserView(record: UserRecord): UserView {
  const { passwordHash: _hash, ...view } = record;
  return view;
}

export async function findUser(db: pg.Pool | pg.ClientBase, email: string): Promise<UserRecord | null> {
  const { rows } = await db.query<UserRow>('select * from app_user where email = $1', [email.trim().toLowerCase()]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function addUser(
  db: pg.Pool,
  input: { email: string; name: string; role: string; password: string; mustChangePassword?: boolean },
): Promise<UserView> {
  const email = normaliseEmail(input.email);
  const name = checkName(input.name);
  const role = checkRole(input.role);
  const problem = passwordProblem(input.password);
  if (problem) throw new ValidationError(problem);
  const hash = await hashPassword(input.password);
  const { rows } = await db.query<UserRow>(
    `insert into app_user (email, name, role, password_hash, must_change_password) values ($1, $2, $3, $4, $5)
     on conflict (email) do nothing returning *`,
    [email, name, role, hash, input.mustChangePassword ?? false],
  );
  if (!rows[0]) throw new Conflict(`a user ${email} already exists`);
  return toUserView(toRecord(rows[0]));
}

export async function listUsers(db: pg.Pool): Promise<UserView[]> {
  const { rows } = await db.query<UserRow>('select * from app_user order by created_at, email');
  return rows.map((r) => toUserView(toRecord(r)));
}

/** Disables a user and ends every session of theirs. */
export async function disableUser(db: pg.Pool, email: string): Promise<UserView> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<UserRow>(
      'update app_user set disabled_at = coalesce(disabled_at, now()) where email = $1 returning *',
      [email.trim().toLowerCase()],
    );
    if (!rows[0]) throw new NotFound(`no user ${email}`);
    await client.query('delete from app_session where email = $1', [rows[0].email]);
    return toUserView(toRecord(rows[0]));
  });
}

export async function setPassword(db: pg.Pool | pg.ClientBase, email: string, password: string): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw new ValidationError(problem);
  const hash = await hashPassword(password);
  await db.query('update app_user set password_hash = $2, must_change_password = false where email = $1', [email, hash]);
}

/** Display names of the given ids (user emails); ids that are not users map to themselves. */
export async function displayNames(db: pg.Pool, ids: readonly string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>(ids.map((id) => [id, id]));
  const wanted = [...new Set(ids)].filter((id) => id.includes('@'));
  if (!wanted.length) return names;
  const { rows } = await db.query<{ email: string; name: string }>('select email, name from app_user where email = any($1::text[])', [wanted]);
  for (const r of rows) names.set(r.email, r.name);
  return names;
}

/**
 * First start: when there is no user at all, an admin from CAREOS_ADMIN_EMAIL/PASSWORD, or one
 * with a generated one-time password that must be changed at first login. Returns what to tell
 * the operator (once), or null when users already exist.
 */
export async function ensureFirstAdmin(db: pg.Pool, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  return withTransaction(db, async (client) => {
    // Two processes starting at once must not both create one.
    await lockForTransaction(client, 'firstAdmin');
    const { rows } = await client.query<{ any: boolean }>('select exists (select 1 from app_user) as any');
    if (rows[0]!.any) return null;
    const fromEnv = Boolean(env.CAREOS_ADMIN_EMAIL && env.CAREOS_ADMIN_PASSWORD);
    const email = normaliseEmail(env.CAREOS_ADMIN_EMAIL || 'admin@careos.local');
    const password = fromEnv ? env.CAREOS_ADMIN_PASSWORD! : generatePassword();
    const problem = passwordProblem(password);
    if (problem) throw new ValidationError(`CAREOS_ADMIN_PASSWORD: ${problem}`);
    await client.query(
      'insert into app_user (email, name, role, password_hash, must_change_password) values ($1, $2, $3, $4, $5)',
      [email, env.CAREOS_ADMIN_NAME?.trim() || 'Administrator', 'admin', await hashPassword(password), !fromEnv],
    );
    return fromEnv
      ? `created the first admin ${email} (from CAREOS_ADMIN_EMAIL / CAREOS_ADMIN_PASSWORD)`
      : `created the first admin: sign in as ${email} with the one-time password ${password} (you will be asked to change it; it is not shown again)`;
  });
}
