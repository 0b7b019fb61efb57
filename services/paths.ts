// Where the product's own files are, found from the package root, so that code bundled for a
// worker thread (threads/spawn.ts), which runs from another directory, finds them too.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'schemas'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package root with schemas/ above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The package root: package.json, schemas/, services/, node_modules/. */
export const PACKAGE_ROOT = findRoot();

/** A file of the package, by its path from the root (e.g. 'services/processor/thread.ts'). */
export function packageFile(relativePath: string): string {
  return path.join(PACKAGE_ROOT, relativePath);
}
