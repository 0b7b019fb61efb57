// Test databases: every test file (or test) gets its own fresh database on one shared server —
// the embedded default under CAREOS_TEST_DATA_DIR (or the OS temp dir), or TEST_DATABASE_URL.
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureEmbedded } from '../../services/db/embedded.ts';
import { createPool } from '../../services/db/pool.ts';

export function testDataDir(): string {
  return process.env.CAREOS_TEST_DATA_DIR || path.join(os.tmpdir(), 'careos-test-pg');
}

async function serverUrl(): Promise<string> {
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  return (await ensureEmbedded(testDataDir())).connectionString;
}

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const base = await serverUrl();
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString());
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      const cleanup = new pg.Client({ connectionString: base });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/**
 * A transaction holding a transaction id, open until `end()`: while it is open $all shows nothing
 * committed after it began (what another test file's long transaction does on the shared server).
 */
export async function openOlderTransaction(db: TestDatabase): Promise<{ end(): Promise<void> }> {
  const client = await db.pool.connect();
  await client.query('begin');
  await client.query('select pg_current_xact_id()');
  let open = true;
  return {
    /** Ends it (again: nothing), so a test's `finally` can end it whatever failed. */
    async end() {
      if (!open) return;
      open = false;
      await client.query('commit');
      client.release();
    },
  };
}
