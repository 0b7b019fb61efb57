// Where the product's own files are, found from the package root, so that bundled code
// (bin/bundle.js: the CLI, the worker threads), which runs from another directory, finds them too.
import path from 'node:path';
import { PACKAGE_ROOT } from '../bin/bundle.js';

/** The package root: package.json, schemas/, services/, node_modules/. */
export { PACKAGE_ROOT };

/** A file of the package, by its path from the root (e.g. 'services/processor/thread.ts'). */
export function packageFile(relativePath: string): string {
  return path.join(PACKAGE_ROOT, relativePath);
}
