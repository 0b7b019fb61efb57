// Starts one of the product's worker threads (reader, processor, intake), with a bounded heap.
//
// Workers do not inherit the main thread's TypeScript loader, and giving each its own (tsx's
// module hooks run on a thread of their own, per worker) costs ~22 MB and a compile of every
// module per worker. Instead each entry is bundled once per process (bin/bundle.js) and the
// worker runs plain JavaScript.
//
// Heap limits: without them V8 lets each isolate's heap grow with the allocation rate (up to
// ~200 MB each on this workload), which made the process's peak RSS grow past 600 MB. The
// processor gets a 32 MB young generation and CAREOS_THREAD_HEAP_MB (default 192) of old
// generation: its live data is a few batches (~30 MB at 2,500 rows; raise the limit with much
// larger CAREOS_PROCESS_BATCH). The reader and the intake hold one or two batches: half of it,
// and a 16 MB young generation (their garbage is short-lived; 32 MB bought no speed and cost
// ~45 MB of RSS on a 100k import).
import { Worker, type MessagePort } from 'node:worker_threads';
import { bundle } from '../../bin/bundle.js';

export const THREADS = {
  reader: 'services/importer/reader-thread.ts',
  processor: 'services/processor/thread.ts',
  intake: 'services/processor/intake-thread.ts',
} as const;

export type ThreadName = keyof typeof THREADS;

/** @param port a MessagePort handed to the thread (workerData.port), e.g. to talk to a sibling thread */
export function startThread(name: ThreadName, input: unknown, heapMb: number, port?: MessagePort): Worker {
  const processor = name === 'processor';
  const resourceLimits = {
    maxYoungGenerationSizeMb: processor ? 32 : 16,
    maxOldGenerationSizeMb: processor ? heapMb : Math.max(64, Math.round(heapMb / 2)),
  };
  return new Worker(bundle(name, THREADS[name]), { workerData: { input, port }, transferList: port ? [port] : [], resourceLimits });
}
