// Starts a TypeScript module on a worker thread (through bootstrap.js), with a bounded heap.
//
// Every worker (reader, processor, projections) gets the same limits: a young generation of
// 32 MB and an old generation of CAREOS_THREAD_HEAP_MB (default 256). Without them V8 lets each
// isolate's heap grow with the allocation rate (up to ~200 MB each on this workload), which is
// what made the process's peak RSS grow past 600 MB; with them it stays under 500 MB for the cost
// of more frequent collections. A worker's live data is a few batches (~50 MB at 5,000 rows): raise
// the limit with much larger CAREOS_READ_BATCH / CAREOS_PROCESS_BATCH.
import { Worker } from 'node:worker_threads';

const YOUNG_GENERATION_MB = 32;

export function startThread(entry: URL, input: unknown, heapMb: number): Worker {
  return new Worker(new URL('./bootstrap.js', import.meta.url), {
    workerData: { entry: entry.href, input },
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: heapMb },
  });
}
