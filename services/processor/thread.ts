// The processor on its own thread, with the same bounded heap as the other workers, so that the
// process's main thread (CLI, HTTP server) stays small. The parent stops it with 'stop'.
import { openThreadStore, type ThreadStoreInput } from '../threads/store.ts';
import { runUntilStopped } from '../threads/loop.ts';
import { Processor } from './run.ts';

export interface ProcessorThreadInput extends ThreadStoreInput {
  batchSize: number;
}

await runUntilStopped(async (input: ProcessorThreadInput) => {
  const opened = await openThreadStore(input, 3);
  const processor = new Processor(opened.store, opened.pool, { batchSize: input.batchSize });
  return { step: () => processor.step(), close: () => opened.close() };
});
