// The server supervises its embedded PostgreSQL: `npm start` on the embedded default, a Nana import
// mid-way, and PostgreSQL's postmaster SIGKILLed. With nothing else done, the server notices,
// restarts PostgreSQL on the same port, logs it with its count, and the import ends by itself with
// read models equal to an undisturbed run's of the same file (`careos import` on a data directory
// of its own). The kill is proven to land mid-import: rows were decided before it, and fewer than
// all of them after PostgreSQL was back (the count never goes down).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, startEmbeddedServer, type EmbeddedTestServer } from '../../test/support/server.ts';
import { dumpReadModels, type ReadModelDump } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { stopEmbedded } from './embedded.ts';

const ROWS = 30_000;
const BATCH = { CAREOS_READ_BATCH: '1000', CAREOS_PROCESS_BATCH: '1000', CAREOS_PG_SHARED_BUFFERS_MB: '128' };
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-supervise-'));
const file = path.join(work, 'nana-supervised.csv');
const dataDirs: string[] = [];
const mounts: string[] = [];
let server: EmbeddedTestServer | undefined;
let reference: ReadModelDump;

interface ImportView {
  status: string;
  totalRows: number | null;
  processedRows: number;
}

function careos(dataDir: string, ...args: string[]): string {
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, ...rest } = process.env;
  const result = spawnSync(process.execPath, [path.join(ROOT, 'bin/careos.js'), ...args], { env: { ...rest, ...BATCH, CAREOS_DATA_DIR: dataDir }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`careos ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** The embedded server's database URL, from what ensureEmbedded left in the data directory (without starting anything). */
function databaseUrl(dataDir: string): string {
  const { user, password } = JSON.parse(fs.readFileSync(path.join(dataDir, 'pg-credentials.json'), 'utf8')) as { user: string; password: string };
  const port = Number(fs.readFileSync(path.join(dataDir, 'pg-port'), 'utf8'));
  return `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/careos`;
}

async function dump(dataDir: string): Promise<ReadModelDump> {
  const client = new pg.Client({ connectionString: databaseUrl(dataDir) });
  await client.connect();
  try {
    return await dumpReadModels(client);
  } finally {
    await client.end();
  }
}

/** Uploads the generated Nana file to the server (202); its import id. */
async function uploadNana(s: EmbeddedTestServer): Promise<string> {
  const form = new FormData();
  form.append('source', 'nana');
  form.append('file', new Blob([fs.readFileSync(file)], { type: 'text/csv' }), 'nana-supervised.csv');
  const started = await fetch(`${s.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}` }, body: form });
  assert.is(started.status, 202, await started.clone().text());
  return ((await started.json()) as { importId: string }).importId;
}

/** Imports whose stored copy is still in PostgreSQL (services/importer/upload-store.ts). */
async function storedCopies(dataDir: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl(dataDir) });
  await client.connect();
  try {
    const { rows } = await client.query<{ import_id: string }>('select distinct import_id from upload_chunk order by 1');
    return rows.map((r) => r.import_id);
  } finally {
    await client.end();
  }
}

function postmasterPid(dataDir: string): number | null {
  try {
    return Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Exists and is not a zombie (an exited process its parent has not reaped yet). */
function running(pid: number): boolean {
  if (!exists(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The import as the API shows it; null while the server cannot answer (PostgreSQL down: 503). */
async function view(s: EmbeddedTestServer, importId: string): Promise<ImportView | null> {
  const response = await fetch(`${s.url}/api/imports/${importId}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
  if (response.status === 503) return null;
  assert.is(response.status, 200, await response.clone().text());
  return (await response.json()) as ImportView;
}

/** What the supervised database holds and does, for a failure's message. */
async function diagnostics(dataDir: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl(dataDir), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const counts = await client.query(`select (select count(*) from es_events where type = 'RowReceived') as received,
      (select count(*) from es_events where type = 'ImportFileRead') as file_read, (select coalesce(sum(processed_rows), 0) from processor_import) as processed`);
    const sessions = await client.query(`select pid, application_name, state, wait_event, xact_start, left(query, 100) as query from pg_stat_activity where datname = 'careos' and pid <> pg_backend_pid()`);
    const locks = await client.query(`select objid, objsubid, pid, granted from pg_locks where locktype = 'advisory'`);
    return JSON.stringify({ ...counts.rows[0], sessions: sessions.rows, advisoryLocks: locks.rows }, null, 1);
  } catch (error) {
    return `(no diagnostics: ${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) {
      const state = server ? await diagnostics(server.dataDir) : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n--- database:\n${state}\n--- server output:\n${server?.output() ?? ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test.before(async () => {
  writeNanaFile(file, ROWS);
  // The undisturbed run of the same file.
  const dataDir = path.join(work, 'reference');
  dataDirs.push(dataDir);
  const summary = JSON.parse(careos(dataDir, 'import', file, '--source', 'nana', '--json')) as { totalRows: number };
  assert.is(summary.totalRows, ROWS);
  reference = await dump(dataDir);
  await stopEmbedded(dataDir);
});

test.after(async () => {
  await server?.stop();
  for (const dataDir of dataDirs) await stopEmbedded(dataDir);
  for (const directory of mounts) spawnSync('umount', [directory]);
  fs.rmSync(work, { recursive: true, force: true });
});

test('supervision › a postmaster SIGKILLed mid-import is restarted by the server on its port, and the import ends by itself as an undisturbed run does', async () => {
  const dataDir = path.join(work, 'supervised');
  dataDirs.push(dataDir);
  server = await startEmbeddedServer(dataDir, BATCH);
  const s = server;
  const port = Number(fs.readFileSync(path.join(dataDir, 'pg-port'), 'utf8'));

  const importId = await uploadNana(s);

  // Some rows decided: the kill lands mid-import.
  const before = await until('the first decided rows', 60_000, async () => {
    const v = await view(s, importId);
    return v && v.processedRows >= 2000 && v;
  });
  assert.is(before.status, 'In progress');
  const killed = postmasterPid(dataDir)!;
  assert.ok(killed && exists(killed), 'the embedded PostgreSQL runs');
  process.kill(killed, 'SIGKILL');
  const killedAt = Date.now();

  // Nothing else is done: the server notices and restarts it.
  await until('the server to restart PostgreSQL', 30_000, async () => /restarted the embedded PostgreSQL \(restart 1;/.test(s.output()));
  console.log(`  restarted ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  const restarted = postmasterPid(dataDir)!;
  assert.is.not(restarted, killed, 'a new postmaster runs');
  assert.not.ok(exists(killed), 'the killed postmaster is gone');
  assert.is(Number(fs.readFileSync(path.join(dataDir, 'pg-port'), 'utf8')), port, 'on the same port');
  assert.match(s.output(), new RegExp(`the embedded PostgreSQL is gone \\(postmaster pid ${killed} killed by SIGKILL\\)`));

  // The first answer after the restart: fewer rows decided than the file has, so there were at the kill too.
  const after = await until('the API to answer again', 30_000, () => view(s, importId));
  assert.ok(after.processedRows >= before.processedRows, 'nothing decided before the kill was lost');
  assert.ok(after.processedRows < ROWS && after.status === 'In progress', `the kill landed mid-import (${after.processedRows} of ${ROWS} decided when PostgreSQL was back)`);
  console.log(`  killed with ${before.processedRows}+ of ${ROWS} rows decided; ${after.processedRows} when PostgreSQL was back`);

  const ended = await until('the import to end by itself', 120_000, async () => {
    const v = await view(s, importId);
    return v && v.status !== 'In progress' && v;
  });
  assert.is(ended.totalRows, ROWS);
  assert.is(ended.processedRows, ROWS);
  const supervised = await dump(dataDir);
  assert.equal(supervised.duplicates, { profiles: 0, relations: 0, errors: 0 });
  assert.equal(supervised.imports, reference.imports);
  assert.equal(supervised.profiles, reference.profiles);
  assert.equal(supervised.relations, reference.relations);
  assert.equal(supervised.errors, reference.errors);
  assert.is((s.output().match(/restarted the embedded PostgreSQL/g) ?? []).length, 1, 'restarted once');
  if (process.env.SHOW_OUTPUT) console.log(s.output());
  assert.not.match(s.output(), /request failed|unhandled rejection|uncaught exception/i);
});

test('supervision › a stopping server does not restart the PostgreSQL it stops', async () => {
  const s = server!;
  const pid = postmasterPid(s.dataDir)!;
  await s.stop();
  assert.is(await s.exited, 0, s.output());
  assert.match(s.output(), 'embedded PostgreSQL stopped');
  // Its postmaster may be a zombie for a moment (its parent, the server, has exited): gone means not running.
  await until('the stopped postmaster to be gone', 10_000, async () => !running(pid));
  assert.is(postmasterPid(s.dataDir), null, 'and nothing started it again');
  assert.ok(fs.existsSync(path.join(s.dataDir, 'pg-stopped.json')), 'stopped on purpose, as a supervisor would see it');
  assert.is((s.output().match(/restarted the embedded PostgreSQL/g) ?? []).length, 1);
});

function mountTmpfs(directory: string, size: string): string | null {
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', directory], { encoding: 'utf8' });
  if (result.status !== 0) return `cannot mount a tmpfs here (${(result.stderr || result.error?.message || `exit ${result.status}`).trim()})`;
  mounts.push(directory);
  return null;
}

test('disk full › PostgreSQL\'s data filling up mid-import: requests answer 503/507, never 500; with space back the import resumes by itself and ends as an undisturbed run does', async () => {
  const dataDir = path.join(work, 'full');
  const pgDir = path.join(dataDir, 'pg');
  fs.mkdirSync(pgDir, { recursive: true });
  // Its data and the import's need ~50 + ~180 MB: 120 MB fills mid-import.
  const refused = mountTmpfs(pgDir, '120m');
  if (refused) return console.log(`SKIPPED: ${refused}`);
  dataDirs.push(dataDir);
  server = await startEmbeddedServer(dataDir, BATCH);
  const s = server;
  const importId = await uploadNana(s);

  await until('PostgreSQL to say its disk is full', 120_000, async () => s.output().includes(`disk full: ${pgDir}`));
  const during = await view(s, importId).catch(() => null);
  assert.ok(!during || during.status === 'In progress', 'the import cannot have ended: it needs more than the disk holds');
  // A request that must write now: 507 (PostgreSQL refused it for lack of space) or 503 (PostgreSQL is down for it), never a 500.
  const small = new FormData();
  small.append('source', 'nana');
  small.append('file', new Blob(['careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create\n,n9,F,A,B,,,0812345678,,\n'], { type: 'text/csv' }), 'small.csv');
  const refusedUpload = await fetch(`${s.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}` }, body: small });
  const problem = await refusedUpload.text();
  assert.ok([503, 507].includes(refusedUpload.status), `an upload while PostgreSQL's disk is full: ${refusedUpload.status} ${problem}`);
  assert.match(problem, refusedUpload.status === 507 ? /PostgreSQL has no space left/ : /PostgreSQL is not reachable/);
  console.log(`  an upload while full: ${refusedUpload.status} ${JSON.parse(problem).detail}`);

  // Space back: nothing else is done.
  assert.is(spawnSync('mount', ['-o', 'remount,size=1g', pgDir]).status, 0);
  const ended = await until('the import to end by itself', 180_000, async () => {
    const v = await view(s, importId);
    return v && v.status !== 'In progress' && v;
  });
  assert.is(ended.totalRows, ROWS);
  const filled = await dump(dataDir);
  assert.equal(filled.duplicates, { profiles: 0, relations: 0, errors: 0 });
  assert.equal(filled.imports, reference.imports, 'the refused upload started nothing');
  assert.equal(await storedCopies(dataDir), [], 'and left no stored copy (the import\'s own was dropped once read)');
  assert.equal(filled.profiles, reference.profiles);
  assert.equal(filled.relations, reference.relations);
  assert.equal(filled.errors, reference.errors);
  await until('the server to say space is back', 10_000, async () => s.output().includes(`disk space is back: ${pgDir}`));
  if (process.env.SHOW_OUTPUT) console.log(s.output());
  assert.not.match(s.output(), /request failed|unhandled rejection|uncaught exception/i);
  await s.stop();
});

test.run();
