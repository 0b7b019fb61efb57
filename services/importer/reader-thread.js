// Bootstrap of the reader's worker thread: workers do not inherit the main thread's TypeScript
// loader, so register tsx here and load the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./reader-thread.ts');
