// Crash safety: a real `careos import` child process is killed (SIGKILL) mid-import, at several
// moments; `careos resume` finishes it, and every read model equals an uninterrupted run's.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureEmbedded } from '../db/embedded.ts';
import { dumpReadModels, type ReadModelDump } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'bin/careos.js');
const ROWS = 12_000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-crash-'));
const file = path.join(work, 'nana-crash.csv');
writeNanaFile(file, ROWS);

function env(dataDir: string): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, ...rest } = process.env;
  return { ...rest, CAREOS_DATA_DIR: dataDir, CAREOS_READ_BATCH: '1000', CAREOS_PROCESS_BATCH: '1000' };
}

function careos(dataDir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: env(dataDir), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`careos ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

async function dump(dataDir: string): Promise<ReadModelDump> {
  const server = await ensureEmbedded(dataDir);
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    return await dumpReadModels(client);
  } finally {
    await client.end();
  }
}

async function progress(dataDir: string): Promise<{ received: number; processed: number }> {
  const server = await ensureEmbedded(dataDir);
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    const received = await client.query("select count(*)::int as n from es_events where type = 'RowReceived'").catch(() => ({ rows: [{ n: 0 }] }));
    const processed = await client.query('select coalesce(sum(processed_rows), 0)::int as n from processor_import').catch(() => ({ rows: [{ n: 0 }] }));
    return { received: received.rows[0].n, processed: processed.rows[0].n };
  } finally {
    await client.end();
  }
}

/** Starts an import and SIGKILLs it once `when` says so; returns what had happened by then. */
async function killDuring(dataDir: string, when: (p: { received: number; processed: number }) => boolean) {
  const child = spawn(process.execPath, [CLI, 'import', file, '--source', 'nana', '--json'], { env: env(dataDir), stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => (exited = true));
  let seen = { received: 0, processed: 0 };
  for (let i = 0; i < 2000 && !exited; i++) {
    seen = await progress(dataDir);
    if (when(seen)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await new Promise((r) => (exited ? r(null) : child.on('exit', r)));
  return seen;
}

let reference: ReadModelDump;

test.before(async () => {
  try {
    await buildReference();
  } catch (error) {
    console.error('reference run failed:', error);
    throw error;
  }
});

async function buildReference() {
  const dataDir = path.join(work, 'reference');
  careos(dataDir, 'import', file, '--source', 'nana', '--json');
  reference = await dump(dataDir);
  assert.is(reference.imports.length, 1);
  careos(dataDir, 'db', 'stop');
}

test.after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

const moments: [string, (p: { received: number; processed: number }) => boolean][] = [
  ['while the file is being read', (p) => p.received >= 2000],
  ['while rows are being decided', (p) => p.processed >= 5000],
  ['right after the start', (p) => p.received > 0],
];

for (const [moment, when] of moments) {
  test(`crash › a SIGKILL ${moment} loses and duplicates nothing after resume`, async () => {
    const dataDir = path.join(work, moment.replace(/\W+/g, '-'));
    const seen = await killDuring(dataDir, when);
    const resumed = JSON.parse(careos(dataDir, 'resume', '--json')) as { status: string; totalRows: number }[];
    const after = await dump(dataDir);
    careos(dataDir, 'db', 'stop');
    if (resumed.length === 0) {
      // The import ran to its end before the kill landed; it must still be complete and exact.
      assert.ok(seen.processed >= 0);
    }
    assert.equal(after.duplicates, { profiles: 0, relations: 0, errors: 0 });
    assert.equal(after.imports, reference.imports);
    assert.equal(after.profiles, reference.profiles);
    assert.equal(after.relations, reference.relations);
    assert.equal(after.errors, reference.errors);
  });
}

test.run();
