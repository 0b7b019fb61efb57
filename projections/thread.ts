// The projection runner on its own thread, so that projecting runs beside the processor instead
// of sharing its event loop. It opens its own connections; the parent stops it with 'stop'.
import { openThreadStore, type ThreadStoreInput } from '../services/threads/store.ts';
import { runUntilStopped } from '../services/threads/loop.ts';
import { ProjectionRunner } from './runner.ts';

export type ProjectionThreadInput = ThreadStoreInput;

await runUntilStopped(async (input: ProjectionThreadInput) => {
  const opened = await openThreadStore(input, 3);
  const runner = new ProjectionRunner(opened.store, opened.pool);
  return { step: () => runner.step(), close: () => opened.close() };
});
