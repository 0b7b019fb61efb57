// Starts one of the product's worker threads (reader, processor, intake), with a bounded heap.
//
// Workers do not inherit the main thread's TypeScript loader, and giving each its own (tsx's
// module hooks run on a thread of their own, per worker) costs ~22 MB and a compile of every
// module per worker. Instead each entry is bundled once per process with esbuild (already the
// compiler under tsx) into node_modules/.cache, dependencies left as imports, and the worker
// runs plain JavaScript.
//
// Heap limits: without them V8 lets each isolate's heap grow with the allocation rate (up to
// ~200 MB each on this workload), which made the process's peak RSS grow past 600 MB. The
// processor gets a 32 MB young generation and CAREOS_THREAD_HEAP_MB (default 192) of old
// generation: its live data is a few batches (~50 MB at 5,000 rows; raise the limit with much
// larger CAREOS_PROCESS_BATCH). The reader and the intake hold one or two batches: half of it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { PACKAGE_ROOT, packageFile } from '../paths.ts';

export const THREADS = {
  reader: 'services/importer/reader-thread.ts',
  processor: 'services/processor/thread.ts',
  intake: 'services/processor/intake-thread.ts',
} as const;

export type ThreadName = keyof typeof THREADS;

const CACHE_DIR = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'careos-threads');
const bundles = new Map<ThreadName, URL>();

/** The entry's bundle, built on first use in this process (written once per content, atomically). */
function bundle(name: ThreadName): URL {
  const built = bundles.get(name);
  if (built) return built;
  const result = buildSync({
    entryPoints: [packageFile(THREADS[name])],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    keepNames: true,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  const file = path.join(CACHE_DIR, `${name}-${crypto.createHash('sha1').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, code);
    fs.renameSync(partial, file); // another process writing the same bundle writes the same bytes
  }
  pruneOldBundles(name, file);
  const url = pathToFileURL(file);
  bundles.set(name, url);
  return url;
}

/** Bundles of earlier versions of the code: kept a day for processes still running that code. */
function pruneOldBundles(name: ThreadName, current: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const entry of fs.readdirSync(CACHE_DIR)) {
    const file = path.join(CACHE_DIR, entry);
    if (file === current || !entry.startsWith(`${name}-`)) continue;
    try {
      if (fs.statSync(file).mtimeMs < dayAgo) fs.rmSync(file, { force: true });
    } catch {
      // removed by another process meanwhile
    }
  }
}

export function startThread(name: ThreadName, input: unknown, heapMb: number): Worker {
  // A smaller young generation saves memory but costs ~4% CPU in scavenges: 32 MB everywhere.
  const oldGenerationMb = name === 'processor' ? heapMb : Math.max(64, Math.round(heapMb / 2));
  const resourceLimits = { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: oldGenerationMb };
  return new Worker(bundle(name), { workerData: { input }, resourceLimits });
}
