// Two servers, one database (issue 24): `npm start` twice on two ports with one DATABASE_URL gives
// two consoles and APIs that share sessions and every read model; one engine leads, the other takes
// over when the leader is SIGKILLed mid-import, and an upload received by a server that dies while
// reading it is read on by whichever leads (stored uploads are in PostgreSQL, not on the receiver's
// disk). Each import ends with the same read models as an undisturbed run of the same files.
// Each kill is proven to have landed at the moment it names, from what the database holds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, startTestServer, signInCookie, type TestServer } from '../../test/support/server.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { addUser } from '../auth/users.ts';
import { migrateAuth } from '../auth/sessions.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import { streams } from '../events/types.ts';

const ROWS = 12_000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-failover-'));
const files = { first: path.join(work, 'nana-first.csv'), second: path.join(work, 'nana-second.csv') };
writeNanaFile(files.first, ROWS);
writeNanaFile(files.second, ROWS, { duplicateEvery: 7 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let shared: TestDatabase;
let reference: TestDatabase;
const servers: TestServer[] = [];
const user = { email: 'ops@example.com', password: 'ops-password-123', name: 'Ops', role: 'admin' as const };

async function start(): Promise<TestServer> {
  const server = await startTestServer({ DATABASE_URL: shared.url, CAREOS_READ_BATCH: '1000', CAREOS_PROCESS_BATCH: '1000' });
  servers.push(server);
  for (let i = 0; i < 100 && (await fetch(`${server.url}/api/ready`)).status !== 200; i++) await sleep(100);
  return server;
}

function bearer(server: TestServer): Record<string, string> {
  return { authorization: `Bearer ${server.tokens.admin}` };
}

async function engineOf(server: TestServer): Promise<string> {
  const report = (await (await fetch(`${server.url}/api/ready`)).json()) as { checks: { engine: { detail: string } } };
  return report.checks.engine.detail.split(':')[0]!;
}

async function upload(server: TestServer, file: string): Promise<string> {
  const form = new FormData();
  form.append('source', 'nana');
  form.append('file', new Blob([fs.readFileSync(file)], { type: 'text/csv' }), path.basename(file));
  const response = await fetch(`${server.url}/api/imports`, { method: 'POST', headers: bearer(server), body: form });
  assert.is(response.status, 202, await response.clone().text());
  return ((await response.json()) as { importId: string }).importId;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${servers.map((s) => s.output().slice(-2000)).join('\n---\n')}`);
    await sleep(everyMs);
  }
}

async function logRow(importId: string): Promise<{ status: string; total_rows: number | null; processed_rows: number }> {
  const { rows } = await shared.pool.query('select status, total_rows, processed_rows from import_log where import_id = $1', [importId]);
  return rows[0];
}

/** The import's log row once it is no longer In progress (on whichever server leads, `who`). */
function ended(importId: string, who: string): Promise<Awaited<ReturnType<typeof logRow>>> {
  return until(`the import to end on ${who}`, async () => {
    const row = await logRow(importId);
    return row.status === 'In progress' ? undefined : row;
  }, 120_000, 200);
}

function kill(server: TestServer): Promise<void> {
  const exited = new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
  server.process.kill('SIGKILL');
  return exited;
}

test.before(async () => {
  shared = await createTestDatabase();
  reference = await createTestDatabase();
  await migrateAuth(shared.pool);
  await addUser(shared.pool, user);
});

test.after(async () => {
  for (const server of servers) await server.stop().catch(() => undefined);
  await shared?.drop();
  await reference?.drop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('two servers › one engine leads, the other follows; a session made on one is valid on the other', async () => {
  const a = await start();
  assert.is(await until('a to lead', async () => ((await engineOf(a)) === 'leading' ? 'leading' : undefined)), 'leading');
  const b = await start();
  assert.is(await engineOf(b), 'following');
  const cookie = await signInCookie({ ...a, users: { ...a.users, admin: user } }, user);
  const me = await fetch(`${b.url}/api/me`, { headers: { cookie } });
  assert.is(me.status, 200, 'the session made on A is valid on B');
  assert.is(((await me.json()) as { id: string }).id.length > 0, true);
});

test('two servers › an upload whose receiver is SIGKILLed while reading it is read on by the leader from PostgreSQL, and ends as an undisturbed run', async () => {
  const [a, b] = servers as [TestServer, TestServer];
  const store = await PostgresEventStore.create(shared.pool);
  // B follows: it receives the upload and reads it itself; A decides.
  const importId = await upload(b, files.first);
  await until('B to have read some rows', async () => {
    const revision = await store.streamRevision(streams.import(importId));
    return revision !== null && revision > 0n ? true : undefined;
  }, 60_000, 5);
  await kill(b);
  const atKill = await logRow(importId);
  const storedAtKill = Number((await store.streamRevision(streams.import(importId))) ?? 0n);
  assert.is(atKill.total_rows, null, 'the kill landed after B had read its file to the end: it proves nothing about reading on');
  assert.ok(storedAtKill > 0 && storedAtKill < ROWS, `rows stored at the kill: ${storedAtKill}`);
  assert.is((await ended(importId, 'A')).total_rows, ROWS);
});

test('two servers › the leader SIGKILLed mid-import: the follower takes over within seconds and the import ends as an undisturbed run', async () => {
  const [a] = servers as [TestServer];
  const c = await start();
  assert.is(await engineOf(c), 'following');
  const importId = await upload(a, files.second);
  await until('A to have decided some rows', async () => {
    const row = await logRow(importId);
    return row && row.processed_rows > 0 ? true : undefined;
  }, 60_000, 5);
  const killedAt = Date.now();
  await kill(a);
  const atKill = await logRow(importId);
  assert.ok(atKill.processed_rows > 0 && atKill.processed_rows < ROWS, `rows decided at the kill: ${atKill.processed_rows}`);
  await until('C to lead', async () => ((await engineOf(c)) === 'leading' ? true : undefined), 30_000, 100);
  const takeover = (Date.now() - killedAt) / 1000;
  assert.ok(takeover < 10, `C took ${takeover} s to lead`);
  assert.is((await ended(importId, 'C')).total_rows, ROWS);
});

test('two servers › the read models equal an undisturbed run of the same files, and careos verify agrees', async () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/careos.js'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, DATABASE_URL: reference.url, CAREOS_DATA_DIR: path.join(work, 'reference') }, timeout: 300_000,
  });
  for (const file of [files.first, files.second]) {
    const run = cli('import', file, '--source', 'nana', '--json');
    assert.is(run.status, 0, run.stderr);
  }
  const [got, want] = [await dumpReadModels(shared.pool), await dumpReadModels(reference.pool)];
  assert.equal(got.imports, want.imports);
  assert.equal(got.duplicates, { profiles: 0, relations: 0, errors: 0 });
  assert.equal(got.errors, want.errors);
  assert.equal(got.relations, want.relations);
  assert.equal(got.profiles, want.profiles);
  const verify = spawnSync(process.execPath, [path.join(ROOT, 'bin/careos.js'), 'verify'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, DATABASE_URL: shared.url, CAREOS_DATA_DIR: path.join(work, 'verify') }, timeout: 300_000,
  });
  assert.is(verify.status, 0, verify.stdout + verify.stderr);
});

test.run();
