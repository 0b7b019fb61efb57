// Every PostgreSQL advisory lock the product takes, with its id, in one place, and the helpers
// that take them. Ids are bigints in one namespace shared with anything else in the database,
// hence the common prefix 7261xxx.
import type pg from 'pg';

export const LOCKS = {
  /** DDL of the event store and the processor's tables (several processes starting at once). */
  schema: 7261001,
  /** DDL of the read models, and a rebuild of them (transaction-scoped). */
  projections: 7261002,
  /** The engine's leader: the one process running the processor. Held on one connection. */
  leader: 7261003,
  /** The first admin, created once (transaction-scoped). */
  firstAdmin: 7261011,
  /** DDL of users and sessions. */
  auth: 7261012,
  /** Starting a Care Shop sync: one at a time across processes (with the import log's "In progress"). */
  careshopSync: 7261021,
  /** One reader per import (second key: hashtext(import id)). */
  reader: 7261100,
} as const;

export type LockName = keyof typeof LOCKS;

function args(name: LockName, key?: string): { sql: string; values: unknown[] } {
  return key === undefined ? { sql: '$1', values: [LOCKS[name]] } : { sql: '$1, hashtext($2)', values: [LOCKS[name], key] };
}

/** Runs work holding a session lock on a connection of its own, waiting for it. */
export async function withLock<T>(pool: pg.Pool, name: LockName, work: (client: pg.PoolClient) => Promise<T>, key?: string): Promise<T> {
  const client = await pool.connect();
  const { sql, values } = args(name, key);
  try {
    await client.query(`select pg_advisory_lock(${sql})`, values);
    try {
      return await work(client);
    } finally {
      await client.query(`select pg_advisory_unlock(${sql})`, values).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** Takes a session lock on this connection if free; true when taken. */
export async function tryLock(client: pg.ClientBase, name: LockName, key?: string): Promise<boolean> {
  const { sql, values } = args(name, key);
  const { rows } = await client.query<{ locked: boolean }>(`select pg_try_advisory_lock(${sql}) as locked`, values);
  return rows[0]!.locked;
}

export async function unlock(client: pg.ClientBase, name: LockName, key?: string): Promise<void> {
  const { sql, values } = args(name, key);
  await client.query(`select pg_advisory_unlock(${sql})`, values);
}

/** Takes a transaction-scoped lock (released at commit or rollback), waiting for it. */
export async function lockForTransaction(client: pg.ClientBase, name: LockName): Promise<void> {
  await client.query('select pg_advisory_xact_lock($1)', [LOCKS[name]]);
}
