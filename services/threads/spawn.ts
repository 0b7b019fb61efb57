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
// generation: its live data is a few batches (~50 MB at 5,000 rows; raise the limit with much
// larger CAREOS_PROCESS_BATCH). The reader and the intake hold one or two batches: half of it.
import { Worker } from 'node:worker_threads';
import { bundle } from '../../bin/bundle.js';

export const THREADS = {
  reader: 'services/importer/reader-thread.ts',
  processor: 'services/processor/thread.ts',
  intake: 'services/processor/intake-thread.ts',
} as const;

export type ThreadName = keyof typeof THREADS;

export function startThread(name: ThreadName, input: unknown, heapMb: number): Worker {
  // A smaller young generation saves memory but costs ~4% CPU in scavenges: 32 MB everywhere.
  const oldGenerationMb = name === 'processor' ? heapMb : Math.max(64, Math.round(heapMb / 2));
  const resourceLimits = { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: oldGenerationMb };
  return new Worker(bundle(name, THREADS[name]), { workerData: { input }, resourceLimits });
}
