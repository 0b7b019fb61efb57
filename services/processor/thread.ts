// The processor on its own thread, with the same bounded heap as the other workers, so that the
// process's main thread (CLI, HTTP server) stays small; its intake (reading and checking the
// input) on another, started beside it by the engine and reached through the port in
// workerData. The parent stops it with 'stop'. It first finishes a rebuild of the read models
// that a crash interrupted: it decides from them.
import { openThreadStore, type ThreadStoreInput } from '../threads/store.ts';
import { runUntilStopped } from '../threads/loop.ts';
import { ProjectionRunner } from '../../projections/runner.ts';
import { workerData, type MessagePort } from 'node:worker_threads';
import { RemoteIntake } from './intake.ts';
import { precompileSchemas } from '../events/schemas.ts';
import { OUTCOME_TYPES } from '../events/types.ts';
import { warmPool } from '../db/pool.ts';
import { Processor } from './run.ts';

export interface ProcessorThreadInput extends ThreadStoreInput {
  batchSize: number;
}

await runUntilStopped(async (input: ProcessorThreadInput) => {
  // The three state lookups of batch N+1 run side by side, next to the commit of batch N.
  const opened = await openThreadStore(input, 4);
  // While the intake thread still loads and reads the first batch: connect, compile what this
  // thread writes. A resumed import's first commit comes sooner.
  precompileSchemas(OUTCOME_TYPES);
  await warmPool(opened.pool, 4);
  await new ProjectionRunner(opened.store, opened.pool).finishRebuild();
  // Reading and checking the input on a third thread: this one only decides and writes.
  const intake = new RemoteIntake((workerData as { port: MessagePort }).port);
  const processor = new Processor(opened.store, opened.pool, { batchSize: input.batchSize, intake });
  return {
    step: () => processor.step(),
    async close() {
      await processor.close().catch(() => undefined); // a failed batch is decided again at the next start
      await opened.close();
    },
  };
});
