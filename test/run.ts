// Test runner: every *.{unit,int,e2e}.test.ts under the source folders, one child process per
// file (uvu runs one file at a time), tiers in order; `npm test` runs them all. The embedded test
// PostgreSQL starts fresh (its data directory removed first) and is stopped at the end.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stopEmbedded } from '../services/db/embedded.ts';
import { testDataDir } from './support/db.ts';
import { ensureConsoleBuild } from '../services/server/console-build.ts';

const TIERS = ['unit', 'int', 'e2e'] as const;
const ROOTS = ['services', 'projections', 'bench', 'test', 'console/src'];

function find(dir: string, suffix: string, found: string[] = []): string[] {
  if (!fs.existsSync(dir)) return found;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) find(full, suffix, found);
    else if (entry.name.endsWith(suffix)) found.push(full);
  }
  return found.sort();
}

// Every run starts on a fresh embedded server, so no run depends on what an earlier one left.
if (!process.env.TEST_DATABASE_URL) {
  await stopEmbedded(testDataDir());
  fs.rmSync(testDataDir(), { recursive: true, force: true });
}

const wanted = process.argv.slice(2);
const tiers = wanted.length ? TIERS.filter((t) => wanted.includes(t)) : TIERS;
const filter = wanted.filter((w) => !(TIERS as readonly string[]).includes(w));
// End-to-end tests start real servers, which build the console when its build is stale: build it
// once here, so no test's start waits for it (or two builds race).
if (tiers.includes('e2e')) ensureConsoleBuild();
let failed = 0;
let files = 0;
for (const tier of tiers) {
  for (const file of ROOTS.flatMap((root) => find(root, `.${tier}.test.ts`))) {
    if (filter.length && !filter.some((f) => file.includes(f))) continue;
    files++;
    process.stdout.write(`\n▶ ${file}\n`);
    const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit', env: process.env });
    if (result.status !== 0) {
      failed++;
      process.stdout.write(`✘ ${file} failed (exit ${result.status ?? result.signal})\n`);
    }
  }
}
if (!process.env.TEST_DATABASE_URL) await stopEmbedded(testDataDir());
process.stdout.write(`\n${files - failed}/${files} test files passed\n`);
process.exit(failed ? 1 : 0);
