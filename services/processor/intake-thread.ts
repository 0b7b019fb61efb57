// The processor's intake on its own thread (see intake.ts): answers each { from } on the port it
// was given (the processor thread holds the other end) with the prepared batch after it, reading
// the next one ahead meanwhile. Stops on 'stop', from the processor or from the engine.
//
// The engine starts it beside the processor thread, not from it, so that both load at once (a
// resumed import's first commit came ~0.5 s later when the processor started it) and no worker
// is ever the child of another.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Position } from '../eventstore/types.ts';
import { openThreadStore } from '../threads/store.ts';
import { precompileSchemas } from '../events/schemas.ts';
import { INPUT_TYPES, LocalIntake, encodeBatch, type IntakeThreadInput } from './intake.ts';

const { input, port } = workerData as { input: IntakeThreadInput; port: MessagePort };
const opening = openThreadStore(input, 2);
precompileSchemas(INPUT_TYPES);
let queue: Promise<void> = Promise.resolve();
let stopped = false;

function enqueue(work: () => Promise<void>): void {
  queue = queue.then(work);
}

function stop(): void {
  enqueue(async () => {
    if (stopped) return;
    stopped = true;
    const opened = await opening;
    await opened.close();
    port.close();
    parentPort!.close();
  });
}

let intake: LocalIntake | null = null;
port.on('message', (message: { from: Position } | 'stop') => {
  if (message === 'stop') return stop();
  enqueue(async () => {
    if (stopped) return;
    try {
      intake ??= new LocalIntake((await opening).store, input.batchSize);
      port.postMessage({ batch: encodeBatch(await intake.next(message.from)) });
    } catch (error) {
      port.postMessage({ error: (error as Error).message });
    }
  });
});
// The processor's end closed (its thread ended) or the engine says stop.
port.on('close', stop);
parentPort!.on('message', (message) => {
  if (message === 'stop') stop();
});
