// The reader on its own thread: parsing CSV and building RowReceived events is the largest CPU
// cost of an import, so it runs beside the processor instead of on the same event loop. The
// thread opens its own connections and event store adapter; it shares nothing but the database.
import { parentPort, workerData } from 'node:worker_threads';
import { openThreadStore, type ThreadStore, type ThreadStoreInput } from '../threads/store.ts';
import { readImport, type ReaderOptions } from './reader.ts';

export interface ReaderThreadInput extends ThreadStoreInput {
  importId: string;
  options: ReaderOptions;
}

const input = (workerData as { input: ReaderThreadInput }).input;
let opened: ThreadStore | null = null;
try {
  opened = await openThreadStore(input, 2);
  const read = await readImport(opened.store, opened.pool, input.importId, input.options);
  parentPort!.postMessage({ ok: true, read });
} catch (error) {
  parentPort!.postMessage({ ok: false, message: (error as Error).message, stack: (error as Error).stack });
} finally {
  await opened?.close();
}
