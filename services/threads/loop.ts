// The body of a long-running worker thread (processor, projections): step while there is work,
// pause briefly when caught up or after an error (reported to the parent), stop on 'stop'. The
// parent hears { started: true } after the first step.
import { parentPort, workerData } from 'node:worker_threads';

export interface SteppedWork {
  /** One unit of work; false when there was nothing to do. */
  step(): Promise<boolean>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runUntilStopped<Input>(open: (input: Input) => Promise<SteppedWork>): Promise<void> {
  let running = true;
  parentPort!.on('message', (message) => {
    if (message === 'stop') running = false;
  });
  const work = await open((workerData as { input: Input }).input);
  let first = true;
  while (running) {
    try {
      const busy = await work.step();
      if (first) {
        first = false;
        parentPort!.postMessage({ started: true });
      }
      if (!busy) await sleep(10);
    } catch (error) {
      // After 'stop' the other thread of the pair may already be gone (the processor's intake):
      // a step cut short by that is the stop itself, not an error to report.
      if (!running) break;
      parentPort!.postMessage({ error: (error as Error).message });
      await sleep(500);
    }
  }
  await work.close();
  parentPort!.close();
}
