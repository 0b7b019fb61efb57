// Bootstrap of the importer's worker threads: workers do not inherit the main thread's TypeScript
// loader, so register tsx here, then load the TypeScript module named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
