// Configuration from the environment, read in one place.
import os from 'node:os';
import path from 'node:path';

export interface Config {
  /** External PostgreSQL; when absent the embedded default runs under dataDir. */
  databaseUrl: string | undefined;
  /** EventStoreDB connection string; when absent events are kept in PostgreSQL. */
  eventstoreUrl: string | undefined;
  dataDir: string;
  /** Largest accepted upload, in bytes. */
  maxFileBytes: number;
  /** RowReceived events appended per transaction. */
  readBatchRows: number;
  /** Rows decided per processor transaction. */
  processBatchRows: number;
  /** Old-generation heap limit of each worker thread, in MB (see threads/spawn.ts). */
  threadHeapMb: number;
  /** shared_buffers of the embedded PostgreSQL, applied when this process starts it (CAREOS_PG_SHARED_BUFFERS_MB). */
  pgSharedBuffersMb: number;
  port: number;
  /** The URL users reach the console at (CAREOS_PUBLIC_URL); https makes the session cookie Secure. */
  publicUrl: string | undefined;
  /** Minutes a console session may sit unused before it ends. */
  sessionIdleMinutes: number;
  careshop: CareshopConfig;
  http: HttpLimits;
  /** Nice value of the engine's threads (reader, intake, processor): people's requests go first. */
  engineNice: number;
  /** Imports read at once by one process; more wait their turn (each reader is a thread with its own heap). */
  maxReaders: number;
}

/** How long the server waits for a client, and a request for PostgreSQL (README "Operations"). */
export interface HttpLimits {
  /** A request's headers must have arrived this long after its first byte (slow clients are cut off). */
  headersTimeoutMs: number;
  /** A connection on which nothing moves for this long (headers, body, or an idle keep-alive) is closed. */
  idleTimeoutMs: number;
  /** A whole request, body included (a 512 MB upload on a slow line), must be done within this. */
  requestTimeoutMs: number;
  /** A request's statement runs at most this long in PostgreSQL; a frozen PostgreSQL answers 503 after it. */
  statementTimeoutMs: number;
}

/** Where Care Shop customers are synced from (README "Care Shop"). */
export interface CareshopConfig {
  /** CARESHOP_DATABASE_URL. Absent: the demo database "careshop" of the embedded PostgreSQL (embedded default only). */
  databaseUrl: string | undefined;
  /** CARESHOP_TABLE: [schema.]table, default public.customer. */
  table: string;
  /** CARESHOP_COLUMN_*: the table's column for each field. */
  columns: CareshopColumns;
  /** CARESHOP_SYNC_CRON: a node-cron schedule for the server's sync (off when absent). */
  syncCron: string | undefined;
  /** CARESHOP_PAGE_ROWS: rows read per keyset page. */
  pageRows: number;
}

export interface CareshopColumns {
  customerId: string;
  firstname: string;
  lastname: string;
  mobilePhone: string;
  email: string;
  updatedAt: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

function identifier(name: string, raw: string | undefined, fallback: string): string {
  const value = raw === undefined || raw === '' ? fallback : raw;
  if (!IDENTIFIER.test(value)) throw new Error(`${name} must be a plain SQL identifier (letters, digits, _ and $, not starting with a digit), got "${value}"`);
  return value;
}

function careshopConfig(env: NodeJS.ProcessEnv): CareshopConfig {
  const table = env.CARESHOP_TABLE || 'public.customer';
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((part) => !IDENTIFIER.test(part))) {
    throw new Error(`CARESHOP_TABLE must be table or schema.table (plain SQL identifiers), got "${table}"`);
  }
  return {
    databaseUrl: env.CARESHOP_DATABASE_URL || undefined,
    table,
    columns: {
      customerId: identifier('CARESHOP_COLUMN_ID', env.CARESHOP_COLUMN_ID, 'customer_id'),
      firstname: identifier('CARESHOP_COLUMN_FIRSTNAME', env.CARESHOP_COLUMN_FIRSTNAME, 'firstname'),
      lastname: identifier('CARESHOP_COLUMN_LASTNAME', env.CARESHOP_COLUMN_LASTNAME, 'lastname'),
      mobilePhone: identifier('CARESHOP_COLUMN_PHONE', env.CARESHOP_COLUMN_PHONE, 'mobile_phone'),
      email: identifier('CARESHOP_COLUMN_EMAIL', env.CARESHOP_COLUMN_EMAIL, 'email'),
      updatedAt: identifier('CARESHOP_COLUMN_UPDATED_AT', env.CARESHOP_COLUMN_UPDATED_AT, 'updated_at'),
    },
    syncCron: env.CARESHOP_SYNC_CRON || undefined,
    pageRows: positiveInt('CARESHOP_PAGE_ROWS', 5000),
  };
}

function niceValue(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 10;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 19) throw new Error(`CAREOS_ENGINE_NICE must be a whole number from 0 to 19, got "${raw}"`);
  return value;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  }
  return value;
}

function publicUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`CAREOS_PUBLIC_URL must be a URL such as https://careos.example.com, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`CAREOS_PUBLIC_URL must be http or https, got "${raw}"`);
  return url.origin;
}

/**
 * The memory this process may use: the machine's, or less when a container (cgroup) limits it
 * (os.totalmem() reports the host's inside a container).
 */
export function availableMemoryBytes(total = os.totalmem(), constrained = process.constrainedMemory?.() ?? 0): number {
  return constrained > 0 && constrained < total ? constrained : total;
}

/**
 * shared_buffers of the embedded PostgreSQL: a quarter of the memory available (PostgreSQL's usual
 * advice), between 128 MB and CAP. With 512 MB a 1,000,000-row import spent ~20% longer: its
 * indexes (random CareOS ids and phones) outgrow the cache and every batch reads and evicts pages.
 */
export function defaultSharedBuffersMb(totalBytes = availableMemoryBytes()): number {
  const quarter = Math.floor(totalBytes / (4 * 1024 * 1024) / 128) * 128;
  return Math.min(SHARED_BUFFERS_CAP_MB, Math.max(128, quarter));
}
const SHARED_BUFFERS_CAP_MB = 2048;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    eventstoreUrl: env.EVENTSTORE_URL || undefined,
    dataDir: path.resolve(env.CAREOS_DATA_DIR || '.data'),
    maxFileBytes: positiveInt('CAREOS_MAX_FILE_BYTES', 512 * 1024 * 1024),
    readBatchRows: positiveInt('CAREOS_READ_BATCH', 2500),
    processBatchRows: positiveInt('CAREOS_PROCESS_BATCH', 2500),
    threadHeapMb: positiveInt('CAREOS_THREAD_HEAP_MB', 192),
    pgSharedBuffersMb: positiveInt('CAREOS_PG_SHARED_BUFFERS_MB', defaultSharedBuffersMb()),
    port: positiveInt('PORT', 3000),
    publicUrl: publicUrl(env.CAREOS_PUBLIC_URL),
    sessionIdleMinutes: positiveInt('CAREOS_SESSION_IDLE_MINUTES', 30),
    careshop: careshopConfig(env),
    engineNice: niceValue(env.CAREOS_ENGINE_NICE),
    maxReaders: positiveInt('CAREOS_MAX_READERS', 2),
    http: {
      headersTimeoutMs: positiveInt('CAREOS_HTTP_HEADERS_TIMEOUT_SECONDS', 10) * 1000,
      idleTimeoutMs: positiveInt('CAREOS_HTTP_IDLE_TIMEOUT_SECONDS', 30) * 1000,
      requestTimeoutMs: positiveInt('CAREOS_HTTP_REQUEST_TIMEOUT_SECONDS', 3600) * 1000,
      statementTimeoutMs: positiveInt('CAREOS_DB_STATEMENT_TIMEOUT_SECONDS', 15) * 1000,
    },
  };
}
