// PostgreSQL stopped with `careos db stop` and started again with `careos db start` under a
// running `npm start` server on the embedded default, which supervises it: a stop on purpose is
// respected (the server does not start it again), the server stays up and answers 503
// meanwhile, saying it was stopped on purpose (problem+json from every API route, a page from the
// console, readiness 503 and a banner; liveness stays 200: the process answers; never a 500), and carries on when PostgreSQL is back on its port (the engine leads again and an import
// started after the restart completes). The server has a data directory of its own, so stopping
// its PostgreSQL disturbs no other test.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { ROOT, startEmbeddedServer, type EmbeddedTestServer } from '../../test/support/server.ts';
import { ensureEmbedded, stopEmbedded } from '../db/embedded.ts';
import { LOCKS } from '../db/locks.ts';

/** Two new customers, different for each file (ids and phones from `n`). */
function csv(n: number): string {
  return `careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth\nC07${n}001,Anong,Chaiyo,081${n}667777,,F,1985-03-03\nC07${n}002,Boon,Mee,081${n}889999,,M,\n`;
}
let files = 0;

let pgDir = '';
let pgPort = 0;
let pgUrl = '';
let server: EmbeddedTestServer;

function bearer(): Record<string, string> {
  return { authorization: `Bearer ${server.adminToken}` };
}

/** `careos db …` on the server's data directory, as an operator runs it. */
function careosDb(command: 'stop' | 'start'): string {
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, ...env } = process.env;
  const result = spawnSync(process.execPath, [path.join(ROOT, 'bin/careos.js'), 'db', command], { env: { ...env, CAREOS_DATA_DIR: pgDir }, encoding: 'utf8' });
  assert.is(result.status, 0, `careos db ${command}: ${result.stderr}`);
  return result.stdout;
}

function postmasterRuns(): boolean {
  return fs.existsSync(path.join(pgDir, 'pg', 'postmaster.pid'));
}

function postImport(fileName: string): Promise<Response> {
  const form = new FormData();
  form.append('source', 'careos');
  form.append('file', new Blob([csv(++files)], { type: 'text/csv' }), fileName);
  return fetch(`${server.url}/api/imports`, { method: 'POST', headers: bearer(), body: form });
}

async function importAndWait(fileName: string): Promise<{ status: string; importedRows: number }> {
  const response = await postImport(fileName);
  assert.is(response.status, 202, await response.clone().text());
  const { importId } = (await response.json()) as { importId: string };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = (await (await fetch(`${server.url}/api/imports/${importId}`, { headers: bearer() })).json()) as { status: string; importedRows: number };
    if (view.status !== 'In progress') return view;
    if (Date.now() > deadline) throw new Error(`import ${importId} did not finish:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Sessions holding the engine's leader lock (LOCKS.leader), as PostgreSQL sees them. */
async function leaderLocks(): Promise<number> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = 0 and objid = $1 and granted",
      [LOCKS.leader],
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

async function waitForLeaderLock(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const n = await leaderLocks();
    if (n > 0) return n;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return 0;
}

function alive(): boolean {
  return server.process.exitCode === null && server.process.signalCode === null;
}

async function expect503(response: Response, what: string, detail = /PostgreSQL/): Promise<void> {
  const text = await response.text();
  assert.is(response.status, 503, `${what}: ${response.status} ${text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.is(response.headers.get('retry-after'), '5', what);
  const problem = JSON.parse(text) as { status: number; title: string; detail: string };
  assert.is(problem.status, 503, what);
  assert.match(problem.detail, detail, what);
}

test.before(async () => {
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-resilience-'));
  server = await startEmbeddedServer(pgDir, { CAREOS_PG_SHARED_BUFFERS_MB: '128' });
  const embedded = await ensureEmbedded(pgDir); // finds the server's
  assert.not.ok(embedded.startedHere);
  pgPort = embedded.port;
  pgUrl = embedded.connectionString;
});

test.after(async () => {
  await server?.stop();
  await stopEmbedded(pgDir);
  fs.rmSync(pgDir, { recursive: true, force: true });
});

test('postgres up › the engine holds the leader lock and an import completes', async () => {
  assert.is((await fetch(`${server.url}/api/health`)).status, 200);
  assert.is(await waitForLeaderLock(), 1);
  const view = await importAndWait('before.csv');
  assert.is(view.status, 'Success');
  assert.is(view.importedRows, 2);
});

async function expectNotReady(what: string, detail: RegExp): Promise<void> {
  const response = await fetch(`${server.url}/api/ready`);
  const report = (await response.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
  assert.is(response.status, 503, `${what}: ${JSON.stringify(report)}`);
  assert.ok(response.headers.get('retry-after'), what);
  assert.is(report.ready, false, what);
  assert.ok(Object.values(report.checks).some((check) => !check.ok && detail.test(check.detail)), `${what}: ${JSON.stringify(report.checks)}`);
}

test('postgres stopped on purpose › the server leaves it stopped and stays up; readiness and every API route answer 503 saying so, console pages a 503 page, liveness 200, never a 500', async () => {
  assert.match(careosDb('stop'), 'embedded PostgreSQL stopped');
  // Long enough for every connection of the server (idle ones, the engine's leader lock, the
  // processor thread's) to learn that PostgreSQL is gone, and for the supervisor to see it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.ok(alive(), `the server died:\n${server.output()}`);
  const onPurpose = /stopped on purpose by careos db stop/;
  assert.is((await fetch(`${server.url}/api/health`)).status, 200, 'liveness: the process answers');
  await expectNotReady('readiness', onPurpose);
  await expect503(await fetch(`${server.url}/api/imports`, { headers: bearer() }), 'import log', onPurpose);
  await expect503(await fetch(`${server.url}/api/profiles?careosId=C071001`, { headers: bearer() }), 'profiles', onPurpose);
  await expect503(await postImport('while-down.csv'), 'upload', onPurpose);
  // The session cookie is looked up in PostgreSQL: unreachable is a 503, not a 401 or a 500.
  await expect503(await fetch(`${server.url}/api/imports`, { headers: { cookie: `careos_session=${'A'.repeat(43)}` } }), 'cookie', onPurpose);
  // A console page with a session cookie: the session cannot be looked up, so a page saying so (503), not a 500.
  for (const pagePath of ['/imports', '/profiles', '/login']) {
    const page = await fetch(`${server.url}${pagePath}`, { headers: { cookie: `careos_session=${'A'.repeat(43)}` }, redirect: 'manual' });
    const text = await page.text();
    assert.is(page.status, 503, `${pagePath}: ${page.status} ${text.slice(0, 300)}`);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, pagePath);
    assert.ok(page.headers.get('retry-after'), pagePath);
    assert.match(text, /PostgreSQL is not reachable/, pagePath);
  }
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.ok(alive(), `the server died:\n${server.output()}`);
  await expectNotReady('readiness, later', onPurpose);
  // Three seconds and more of supervision (a look every 0.5 s): a stop on purpose is not undone.
  assert.not.ok(postmasterRuns(), 'the server started the stopped PostgreSQL again');
  assert.match(server.output(), /database: the embedded PostgreSQL was stopped on purpose by careos db stop/);
  assert.not.match(server.output(), /restarted the embedded PostgreSQL/);
});

test('postgres back › careos db start starts it on its port; health is 200 again, the engine leads again, and an import started after the restart completes', async () => {
  assert.match(careosDb('start'), `embedded PostgreSQL started on port ${pgPort}`);
  assert.ok(postmasterRuns());
  const deadline = Date.now() + 15_000;
  let health = await fetch(`${server.url}/api/ready`);
  while (health.status !== 200 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    health = await fetch(`${server.url}/api/ready`);
  }
  assert.is(health.status, 200, await health.text());
  assert.is(await waitForLeaderLock(), 1, 'the engine did not take the leader lock again');
  const view = await importAndWait('after.csv');
  assert.is(view.status, 'Success');
  assert.is(view.importedRows, 2);
  assert.match(server.output(), /engine: lost its PostgreSQL connection/);
  assert.match(server.output(), /engine: leading again/);
  assert.match(server.output(), /database: the embedded PostgreSQL accepts connections again/);
  assert.not.match(server.output(), /restarted the embedded PostgreSQL/, 'started by careos db start, not by the server');
  assert.ok(alive());
});

test('log › nothing was answered 500 or logged as a server fault', () => {
  assert.not.match(server.output(), /request failed|Internal Server Error|unhandled rejection|uncaught exception|"status":500/i);
});

test.run();
