// PostgreSQL connections: DATABASE_URL when set, else the embedded default.
import pg from 'pg';
import type { Config } from '../config.ts';
import { ensureEmbedded } from './embedded.ts';

// int8 (bigint) columns come back as strings by default; counts and row numbers fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export async function resolveDatabaseUrl(config: Config): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  const server = await ensureEmbedded(config.dataDir);
  return server.connectionString;
}

export function createPool(connectionString: string, max = 6): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'careos-importer' });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
