// Starts a TypeScript module on a worker thread (through bootstrap.js).
import { Worker } from 'node:worker_threads';

export function startThread(entry: URL, input: unknown): Worker {
  return new Worker(new URL('./bootstrap.js', import.meta.url), { workerData: { entry: entry.href, input } });
}
