// What every worker thread opens for itself: its own small pool and event store adapter (threads
// share nothing but the database).
import type pg from 'pg';
import { createPool } from '../db/pool.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import type { EventStore } from '../eventstore/types.ts';

export interface ThreadStoreInput {
  databaseUrl: string;
  eventstoreUrl: string | undefined;
}

export interface ThreadStore {
  pool: pg.Pool;
  store: EventStore;
  close(): Promise<void>;
}

export async function openThreadStore(input: ThreadStoreInput, connections: number): Promise<ThreadStore> {
  const pool = createPool(input.databaseUrl, connections);
  let store: EventStore;
  if (input.eventstoreUrl) {
    const { EventStoreDbStore } = await import('../eventstore/eventstoredb.ts');
    store = new EventStoreDbStore(input.eventstoreUrl, pool);
  } else {
    store = new PostgresEventStore(pool);
  }
  return {
    pool,
    store,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
