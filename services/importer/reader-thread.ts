// The reader on its own thread: parsing CSV and building RowReceived events is the largest CPU
// cost of an import, so it runs beside the processor instead of on the same event loop. The
// thread opens its own connections and event store adapter; it shares nothing but the database.
import { parentPort, workerData } from 'node:worker_threads';
import { createPool } from '../db/pool.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import type { EventStore } from '../eventstore/types.ts';
import { readImport, type ReaderOptions } from './reader.ts';

export interface ReaderThreadInput {
  databaseUrl: string;
  eventstoreUrl: string | undefined;
  importId: string;
  options: ReaderOptions;
}

const input = (workerData as { input: ReaderThreadInput }).input;
const pool = createPool(input.databaseUrl, 2);
let store: EventStore | null = null;
try {
  if (input.eventstoreUrl) {
    const { EventStoreDbStore } = await import('../eventstore/eventstoredb.ts');
    store = new EventStoreDbStore(input.eventstoreUrl, pool);
  } else {
    store = new PostgresEventStore(pool);
  }
  const read = await readImport(store, pool, input.importId, input.options);
  parentPort!.postMessage({ ok: true, read });
} catch (error) {
  parentPort!.postMessage({ ok: false, message: (error as Error).message, stack: (error as Error).stack });
} finally {
  await store?.close();
  await pool.end();
}
