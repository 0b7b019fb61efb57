// The processor's intake on its own thread (see intake.ts): answers each { from } with the
// prepared batch after it, reading the next one ahead meanwhile; stops on 'stop'.
import { parentPort, workerData } from 'node:worker_threads';
import type { Position } from '../eventstore/types.ts';
import { openThreadStore } from '../threads/store.ts';
import { LocalIntake, type IntakeThreadInput } from './intake.ts';

const input = (workerData as { input: IntakeThreadInput }).input;
const opened = await openThreadStore(input, 2);
const intake = new LocalIntake(opened.store, input.batchSize);
let queue = Promise.resolve();
parentPort!.on('message', (message: { from: Position } | 'stop') => {
  queue = queue.then(async () => {
    if (message === 'stop') {
      await intake.close();
      await opened.close();
      parentPort!.close();
      return;
    }
    try {
      parentPort!.postMessage({ batch: await intake.next(message.from) });
    } catch (error) {
      parentPort!.postMessage({ error: (error as Error).message });
    }
  });
});
