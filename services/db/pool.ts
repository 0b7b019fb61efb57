// PostgreSQL connections: DATABASE_URL when set, else the embedded default.
import pg from 'pg';
import type { Config } from '../config.ts';
import { ensureEmbedded } from './embedded.ts';

// int8 (bigint) columns come back as strings by default; counts and row numbers fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export async function resolveDatabaseUrl(config: Config): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  const server = await ensureEmbedded(config.dataDir, { sharedBuffersMb: config.pgSharedBuffersMb });
  return server.connectionString;
}

export function createPool(connectionString: string, max = 6): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'careos-importer' });
  // A client losing its connection (PostgreSQL stopped or restarted) must not crash the process:
  // an idle one is dropped by the pool (its 'error' comes here), and a checked-out one (a
  // transaction, the engine's leader lock) emits 'error' on itself, which without a listener is an
  // uncaught exception. Its query in flight, if any, fails with the error, which is how callers
  // learn about it; the pool discards the broken client at release and the next query reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * The pool the server's requests use: each statement runs at most `statementTimeoutMs` in
 * PostgreSQL, and the client gives up a little later by itself (a frozen PostgreSQL enforces no
 * timeout of its own), as it does on a connection not made within 5 s. A request then answers 503
 * in seconds instead of hanging. The engine's own pool has no such limit: a rebuild's statements
 * run as long as they need.
 */
export function createRequestPool(connectionString: string, statementTimeoutMs: number, max = 8): pg.Pool {
  const pool = new pg.Pool({
    connectionString, max, application_name: 'careos-importer',
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 2000,
    idle_in_transaction_session_timeout: statementTimeoutMs * 2,
    connectionTimeoutMillis: 5000,
  });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATEs of a server that is going away or not there yet: admin_shutdown, crash_shutdown,
// cannot_connect_now (starting up or shutting down), too_many_connections, query_canceled (a
// request's statement_timeout: PostgreSQL is too slow to answer now).
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);
const CONNECTION_MESSAGES = /^(Connection terminated|Client has encountered a connection error|Connection ended unexpectedly|timeout expired|Query read timeout|timeout exceeded when trying to connect)/;

/**
 * True when an error says PostgreSQL cannot be reached (down, restarting, refusing connections)
 * rather than that a statement was wrong: the request may succeed later, so it is a 503 and not a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable); // every address refused
  return CONNECTION_MESSAGES.test(error.message);
}

// SQLSTATE classes of a statement refused for the data it carries: data exception (22: an
// invalid byte sequence, a value out of range, malformed JSON), integrity constraint violation
// (23), program limit exceeded (54: an index entry too large). The same data is refused again on
// every try; a connection lost (08), a server shutting down (57), resources (53), a serialization
// failure (40) or a lock (55) say nothing about the data, and trying again may succeed.
const DATA_REFUSED_CLASSES = new Set(['22', '23', '54']);

/**
 * True when PostgreSQL refused a statement because of the data it carries: trying the same data
 * again fails again (the processor then finds the row that carries it, run.ts).
 */
export function isDataRefused(error: unknown): boolean {
  if (!(error instanceof Error) || isDatabaseUnavailable(error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.length === 5 && DATA_REFUSED_CLASSES.has(code.slice(0, 2));
}

export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query('begin');
    result = await work(client);
    await client.query('commit');
  } catch (error) {
    // A connection that timed out or broke may still be busy on the wire: it is discarded, not reused.
    if (isDatabaseUnavailable(error)) {
      client.release(error as Error);
      throw error;
    }
    await client.query('rollback').catch(() => undefined);
    client.release();
    throw error;
  }
  client.release();
  return result;
}

/**
 * Opens `count` connections now and returns them to the pool, so that the first real work does
 * not pay for connecting (and authenticating) one at a time.
 */
export async function warmPool(pool: pg.Pool, count: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: count }, () => pool.connect()));
  for (const client of clients) client.release();
}
