// PostgreSQL stopped and started again under a running `npm start` server, as `careos db stop`
// does it: the server stays up, answers 503 meanwhile (problem+json from every API route, a page
// saying so from the console, readiness 503; liveness stays 200: the process answers), and carries on when PostgreSQL is back (the engine leads again and an
// import started after the restart completes). The server runs against a dedicated embedded
// PostgreSQL in a temporary data directory, so stopping it disturbs no other test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
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
let server: TestServer;

function bearer(): Record<string, string> {
  return { authorization: `Bearer ${server.tokens.admin}` };
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

async function expect503(response: Response, what: string): Promise<void> {
  const text = await response.text();
  assert.is(response.status, 503, `${what}: ${response.status} ${text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.is(response.headers.get('retry-after'), '5', what);
  const problem = JSON.parse(text) as { status: number; title: string; detail: string };
  assert.is(problem.status, 503, what);
  assert.match(problem.detail, /PostgreSQL/, what);
}

test.before(async () => {
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-resilience-'));
  const embedded = await ensureEmbedded(pgDir);
  pgPort = embedded.port;
  pgUrl = embedded.connectionString;
  server = await startTestServer({ DATABASE_URL: embedded.connectionString });
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

async function expectNotReady(what: string): Promise<void> {
  const response = await fetch(`${server.url}/api/ready`);
  const report = (await response.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
  assert.is(response.status, 503, `${what}: ${JSON.stringify(report)}`);
  assert.ok(response.headers.get('retry-after'), what);
  assert.is(report.ready, false, what);
  assert.is(report.checks.database?.ok, false, what);
  assert.match(report.checks.database!.detail, /PostgreSQL/, what);
}

test('postgres stopped › the server stays up; readiness and every API route answer 503, console pages a 503 page, liveness 200, never a 500', async () => {
  assert.ok(await stopEmbedded(pgDir), 'the embedded PostgreSQL was not running');
  // Long enough for every connection of the server (idle ones, the engine's leader lock, the
  // processor thread's) to learn that PostgreSQL is gone.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.ok(alive(), `the server died:\n${server.output()}`);
  assert.is((await fetch(`${server.url}/api/health`)).status, 200, 'liveness: the process answers');
  await expectNotReady('readiness');
  await expect503(await fetch(`${server.url}/api/imports`, { headers: bearer() }), 'import log');
  await expect503(await fetch(`${server.url}/api/profiles?careosId=C071001`, { headers: bearer() }), 'profiles');
  await expect503(await postImport('while-down.csv'), 'upload');
  // The session cookie is looked up in PostgreSQL: unreachable is a 503, not a 401 or a 500.
  await expect503(await fetch(`${server.url}/api/imports`, { headers: { cookie: `careos_session=${'A'.repeat(43)}` } }), 'cookie');
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
  await expectNotReady('readiness, later');
});

test('postgres back › ready again, the engine leads again, and an import started after the restart completes', async () => {
  const embedded = await ensureEmbedded(pgDir);
  assert.is(embedded.port, pgPort, 'the embedded PostgreSQL came back on another port');
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
  assert.ok(alive());
});

test('log › nothing was answered 500 or logged as a server fault', () => {
  assert.not.match(server.output(), /request failed|Internal Server Error|Unhandled|uncaught|"status":500/i);
});

test.run();
