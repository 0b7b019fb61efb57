// The projection runner on its own thread, so that projecting runs beside the processor instead
// of sharing its event loop. It opens its own connections; the parent stops it with 'stop'.
import { parentPort, workerData } from 'node:worker_threads';
import { createPool } from '../services/db/pool.ts';
import { PostgresEventStore } from '../services/eventstore/postgres.ts';
import type { EventStore } from '../services/eventstore/types.ts';
import { ProjectionRunner } from './runner.ts';

export interface ProjectionThreadInput {
  databaseUrl: string;
  eventstoreUrl: string | undefined;
}

const input = (workerData as { input: ProjectionThreadInput }).input;
const pool = createPool(input.databaseUrl, 3);
let store: EventStore;
if (input.eventstoreUrl) {
  const { EventStoreDbStore } = await import('../services/eventstore/eventstoredb.ts');
  store = new EventStoreDbStore(input.eventstoreUrl, pool);
} else {
  store = new PostgresEventStore(pool);
}
const runner = new ProjectionRunner(store, pool);
let running = true;
parentPort!.on('message', (message) => {
  if (message === 'stop') running = false;
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
while (running) {
  try {
    if (!(await runner.step())) await sleep(10);
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
    await sleep(500);
  }
}
await store.close();
await pool.end();
parentPort!.close();
