// The console depends on contracts, not on the services' internals: from outside console/ it
// imports values only from schemas/ and the two tiny modules that hand it the service layer and
// name the session cookie (types from the services are fine). No pg, no SQL, no processor.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';

const SRC = path.resolve(import.meta.dirname, '../..');
const ROOT = path.resolve(SRC, '../..');
const ALLOWED_VALUES = new Set(['services/api/context.ts', 'services/auth/cookie.ts']);

function sources(dir = SRC, found: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sources(full, found);
    else if (/\.(ts|svelte)$/.test(entry.name) && !/\.(unit|int|e2e)\.test\.ts$/.test(entry.name)) found.push(full);
  }
  return found;
}

test('boundaries › the console imports no service internals, pg or SQL', () => {
  const problems: string[] = [];
  for (const file of sources()) {
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/g)) {
      const [, typeOnly, specifier] = match as unknown as [string, string | undefined, string];
      if (/^(pg|pg-copy-streams|@eventstore\/db-client|csv-parse|multer|express)(\/|$)/.test(specifier)) problems.push(`${file}: ${specifier}`);
      if (!specifier.startsWith('.')) continue;
      const target = path.relative(ROOT, path.resolve(path.dirname(file), specifier));
      if (target.startsWith('console/') || target.startsWith('schemas/')) continue;
      if (typeOnly || ALLOWED_VALUES.has(target)) continue;
      problems.push(`${path.relative(ROOT, file)} imports ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});

test.run();
