// Test runner: every *.{unit,int,e2e}.test.ts under the source folders, one child process per
// file (uvu runs one file at a time; two files at a time, browser files one by one, see PARALLEL),
// tiers in order; `npm test` runs them all, and the summary gives each tier's time. The embedded test
// PostgreSQL starts fresh (its data directory removed first) and is stopped at the end.
//
// Skips are never counted as passes: a file that cannot run here (no EVENTSTORE_URL) exits with
// SKIP_EXIT after saying why, and a test that skips inside a file that ran prints a line
// "SKIPPED: why"; the summary lists both.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { stopEmbedded } from '../services/db/embedded.ts';
import { testDataDir } from './support/db.ts';
import { ensureConsoleBuild } from '../services/server/console-build.ts';

const TIERS = ['unit', 'int', 'e2e'] as const;
/** The exit code of a test file that could not run here at all (automake's convention). */
export const SKIP_EXIT = 77;
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
const skippedFiles: string[] = [];
const skippedTests: string[] = [];

/**
 * Files of a tier run this many at a time. Unit and integration files share nothing (each
 * integration file makes its own databases) and wait on PostgreSQL much of the time. End-to-end
 * files start servers and `careos` processes on data directories of their own, and prove their
 * moments (a kill mid-import) from what the store holds, never from timing: two at a time too.
 * Browser files (BROWSER) then run one by one, each driving a console in chromium.
 */
const PARALLEL: Record<(typeof TIERS)[number], number> = { unit: 2, int: 2, e2e: 2 };
/** The console's browser tests: the last part of the e2e tier, one file at a time, timed apart. */
const BROWSER = ['test/console/'];
/**
 * Files that run alone even in a parallel tier: the event store's own tests read $all right after
 * appending, and $all shows only what is older than the oldest transaction running anywhere in
 * the PostgreSQL cluster (xids are cluster-wide), so another file's open transaction hides them.
 */
const ALONE = ['services/eventstore/'];
/** The longest files of their tier (measured), started first so that the two workers end together. */
const LONGEST = ['services/cli/cli.e2e', 'services/importer/crash.e2e', 'services/db/supervisor.e2e', 'services/server/lifecycle.e2e', 'bench/bench.int', 'services/processor/revert.int', 'services/processor/batching.int'];
const rank = (file: string) => {
  const i = LONGEST.findIndex((prefix) => file.startsWith(prefix));
  return i < 0 ? LONGEST.length : i;
};

/** A file still running after this long has hung (the longest takes ~1.5 min): it is killed and fails. */
const FILE_TIMEOUT_MS = 15 * 60_000;

/** Runs one test file; its output is passed through (one at a time) or kept and printed when it ends. */
function runFile(file: string, passThrough: boolean): Promise<{ code: number | null; skips: string[]; output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const skips: string[] = [];
    let output = '';
    const watch = (chunk: Buffer, out: NodeJS.WriteStream) => {
      if (passThrough) out.write(chunk);
      else output += chunk.toString('utf8');
      for (const match of chunk.toString('utf8').matchAll(/^SKIPPED: (.*)$/gm)) skips.push(match[1]!);
    };
    child.stdout.on('data', (chunk: Buffer) => watch(chunk, process.stdout));
    child.stderr.on('data', (chunk: Buffer) => watch(chunk, process.stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    let done = false;
    const finish = (code: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (timedOut) process.stdout.write(`\n✘ ${file} timed out after ${FILE_TIMEOUT_MS / 60_000} minutes and was killed\n`);
      resolve({ code: timedOut ? 1 : code, skips, output, seconds: (performance.now() - started) / 1000 });
    };
    child.on('close', (code) => finish(code));
    // A process the file started and left running may hold its output open: the file's own exit decides.
    child.on('exit', (code) => setTimeout(() => finish(code), 2000).unref());
  });
}

const tierSeconds: string[] = [];
for (const tier of tiers) {
  const queue = ROOTS.flatMap((root) => find(root, `.${tier}.test.ts`)).filter((file) => !filter.length || filter.some((f) => file.includes(f)));
  const parallel = PARALLEL[tier];
  const tierStarted = performance.now();
  /** Runs the queue's files one after another; `alone` when no other worker runs (output passed through). */
  const worker = async (alone = parallel === 1) => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      files++;
      if (alone) process.stdout.write(`\n▶ ${file}\n`);
      const { code, skips, output, seconds } = await runFile(file, alone);
      if (!alone) process.stdout.write(`\n▶ ${file}\n${output}`);
      process.stdout.write(`  (${file}: ${seconds.toFixed(1)} s)\n`);
      if (code === SKIP_EXIT) {
        skippedFiles.push(`${file}: ${skips.join('; ') || 'skipped'}`);
        continue;
      }
      skippedTests.push(...skips.map((why) => `${file}: ${why}`));
      if (code !== 0) {
        failed++;
        process.stdout.write(`✘ ${file} failed (exit ${code})\n`);
      }
    }
  };
  const alone = queue.filter((file) => ALONE.some((prefix) => file.startsWith(prefix)));
  const browser = queue.filter((file) => BROWSER.some((prefix) => file.startsWith(prefix)));
  queue.splice(0, queue.length, ...queue.filter((file) => !alone.includes(file) && !browser.includes(file)).sort((a, b) => rank(a) - rank(b)));
  await Promise.all(Array.from({ length: parallel }, () => worker()));
  queue.push(...alone);
  await worker(true);
  tierSeconds.push(`${tier} ${((performance.now() - tierStarted) / 1000).toFixed(0)} s`);
  if (browser.length) {
    const browserStarted = performance.now();
    queue.push(...browser);
    await worker(true);
    tierSeconds.push(`browser ${((performance.now() - browserStarted) / 1000).toFixed(0)} s`);
  }
}
if (!process.env.TEST_DATABASE_URL) await stopEmbedded(testDataDir());
const ran = files - skippedFiles.length;
process.stdout.write(`\n${ran - failed}/${ran} test files passed (${tierSeconds.join(', ')})`);
if (skippedFiles.length) process.stdout.write(`; ${skippedFiles.length} skipped as a whole`);
process.stdout.write('\n');
for (const line of skippedFiles) process.stdout.write(`  skipped file: ${line}\n`);
for (const line of skippedTests) process.stdout.write(`  skipped test: ${line}\n`);
process.exit(failed ? 1 : 0);
