// What every worker thread opens for itself: its own small pool and event store adapter (threads
// share nothing but the database).
import fs from 'node:fs';
import os from 'node:os';
import type pg from 'pg';
import { createPool } from '../db/pool.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import type { EventStore } from '../eventstore/types.ts';

export interface ThreadStoreInput {
  databaseUrl: string;
  eventstoreUrl: string | undefined;
  /**
   * The thread's nice value (CAREOS_ENGINE_NICE): the engine's threads yield the CPU to the
   * threads that answer people (the console, the API) when both want it, and have it all otherwise.
   */
  nice?: number;
}

/**
 * Lowers this thread's scheduling priority (Linux: a nice value is per thread; /proc/thread-self
 * names this thread's id). Elsewhere, or when refused, the thread runs at its usual priority.
 */
export function lowerThreadPriority(nice: number | undefined): void {
  if (!nice) return;
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, nice);
  } catch {
    // not Linux, or not allowed: nothing to do
  }
}

export interface ThreadStore {
  pool: pg.Pool;
  store: EventStore;
  close(): Promise<void>;
}

export async function openThreadStore(input: ThreadStoreInput, connections: number): Promise<ThreadStore> {
  lowerThreadPriority(input.nice);
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
