// Configuration from the environment, read in one place.
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
  port: number;
  /** The URL users reach the console at (CAREOS_PUBLIC_URL); https makes the session cookie Secure. */
  publicUrl: string | undefined;
  /** Minutes a console session may sit unused before it ends. */
  sessionIdleMinutes: number;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    eventstoreUrl: env.EVENTSTORE_URL || undefined,
    dataDir: path.resolve(env.CAREOS_DATA_DIR || '.data'),
    maxFileBytes: positiveInt('CAREOS_MAX_FILE_BYTES', 512 * 1024 * 1024),
    readBatchRows: positiveInt('CAREOS_READ_BATCH', 2500),
    processBatchRows: positiveInt('CAREOS_PROCESS_BATCH', 2500),
    threadHeapMb: positiveInt('CAREOS_THREAD_HEAP_MB', 192),
    port: positiveInt('PORT', 3000),
    publicUrl: publicUrl(env.CAREOS_PUBLIC_URL),
    sessionIdleMinutes: positiveInt('CAREOS_SESSION_IDLE_MINUTES', 30),
  };
}
