// `npm start` on the embedded default, as a new user runs it: the first start creates the first
// admin (a one-time password printed once, to be changed at first sign-in, or the admin given in
// CAREOS_ADMIN_EMAIL/PASSWORD), and Ctrl-C/SIGTERM stops what the command started: the embedded
// PostgreSQL too, unless another careos process (a CLI import) is still using it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, ROOT } from '../../test/support/server.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { stopEmbedded } from '../db/embedded.ts';

interface Started {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
}

function serverEnv(dataDir: string, port: number | null, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CAREOS_DATA_DIR: dataDir, CAREOS_STOP_WITH_PARENT: '1', ...extra };
  if (port === null) delete env.PORT;
  else env.PORT = String(port);
  for (const name of ['DATABASE_URL', 'EVENTSTORE_URL', 'CAREOS_API_TOKENS', ...(extra.CAREOS_ADMIN_EMAIL ? [] : ['CAREOS_ADMIN_EMAIL', 'CAREOS_ADMIN_PASSWORD'])]) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

async function start(dataDir: string, extra: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/careos-server.js')], { cwd: ROOT, env: serverEnv(dataDir, port, extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (!output.includes('console and API on')) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `http://localhost:${port}`, output: () => output, exited };
}

function postmasterPid(dataDir: string): number | null {
  try {
    return Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

/** Running: it exists and is not a zombie (an exited process its parent — here often init, which may not reap in a container — has not reaped yet). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function signIn(url: string, email: string, password: string): Promise<Response> {
  return fetch(`${url}/login`, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ email, password }),
    headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded', 'x-sveltekit-action': 'true' },
  });
}

const dirs: string[] = [];
function freshDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-lifecycle-'));
  dirs.push(dir);
  return dir;
}

test.after(async () => {
  for (const dir of dirs) {
    await stopEmbedded(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('first start › with no user, an admin with a one-time password is printed once and must change it before anything else', async () => {
  const dataDir = freshDataDir();
  const server = await start(dataDir);
  const match = /sign in as (\S+) with the one-time password (\S+)/.exec(server.output());
  assert.ok(match, server.output());
  const [, email, password] = match as unknown as [string, string, string];
  const response = await signIn(server.url, email, password);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('careos_session='));
  assert.ok(cookie, `signed in with the one-time password (${response.status})`);
  const api = await fetch(`${server.url}/api/imports`, { headers: { cookie: cookie!.split(';')[0]! } });
  assert.is(api.status, 403, 'nothing but changing the password is allowed yet');
  assert.match((await api.json() as { detail: string }).detail, 'change your one-time password');
  server.child.kill('SIGTERM');
  assert.is(await server.exited, 0);

  // Started again: the admin exists, nothing new is printed.
  const again = await start(dataDir);
  assert.not.match(again.output(), 'one-time password');
  again.child.kill('SIGTERM');
  assert.is(await again.exited, 0);
});

test('first start › CAREOS_ADMIN_EMAIL and CAREOS_ADMIN_PASSWORD make the first admin, with nothing to change', async () => {
  const dataDir = freshDataDir();
  const server = await start(dataDir, { CAREOS_ADMIN_EMAIL: 'Owner@Example.com', CAREOS_ADMIN_PASSWORD: 'correct horse battery' });
  assert.not.match(server.output(), 'correct horse battery', 'the password is never printed');
  const response = await signIn(server.url, 'owner@example.com', 'correct horse battery');
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('careos_session='))!;
  const api = await fetch(`${server.url}/api/imports`, { headers: { cookie: cookie.split(';')[0]! } });
  assert.is(api.status, 200);
  server.child.kill('SIGTERM');
  assert.is(await server.exited, 0);
});

test('shutdown › SIGTERM stops the server and the embedded PostgreSQL it started', async () => {
  const dataDir = freshDataDir();
  const server = await start(dataDir);
  const pid = postmasterPid(dataDir);
  assert.ok(pid && alive(pid), 'the embedded PostgreSQL runs');
  server.child.kill('SIGTERM');
  assert.is(await server.exited, 0);
  assert.match(server.output(), 'embedded PostgreSQL stopped');
  assert.not.ok(alive(pid!), 'PostgreSQL is stopped');
});

test('shutdown › SIGINT leaves the embedded PostgreSQL running while a careos import in another process uses it, and that import completes', async () => {
  const dataDir = freshDataDir();
  const server = await start(dataDir);
  const pid = postmasterPid(dataDir)!;
  const file = path.join(dataDir, 'nana-big.csv');
  writeNanaFile(file, 30_000);
  const cli = spawn(process.execPath, [path.join(ROOT, 'bin/careos.js'), 'import', file, '--source', 'nana'], {
    cwd: ROOT, env: serverEnv(dataDir, null), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let cliOut = '';
  cli.stdout!.on('data', (c) => (cliOut += c));
  cli.stderr!.on('data', (c) => (cliOut += c));
  const cliExited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
  // The CLI says so once its import is started (stored, in the import log, being read).
  for (let i = 0; !/import \S+ started/.test(cliOut); i++) {
    assert.ok(i < 1200 && cli.exitCode === null, `the CLI import never started: ${cliOut}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  server.child.kill('SIGINT');
  assert.is(await server.exited, 0);
  assert.match(server.output(), 'left the embedded PostgreSQL running');
  assert.ok(alive(pid), 'PostgreSQL still runs for the CLI');
  assert.is(await cliExited, 0, cliOut);
  assert.match(cliOut, /(Success|Failed): 30000 rows, \d+ imported, \d+ rejected/, 'the CLI import ran to its end');
});

test('shutdown › a server whose starter was killed (SIGKILL, no chance to stop it) stops by itself and stops its PostgreSQL', async () => {
  const dataDir = freshDataDir();
  const port = await freePort();
  // An intermediate process starts the server and is then killed outright.
  const starter = spawn(process.execPath, ['-e', `
    const child = require('node:child_process').spawn(process.execPath, [${JSON.stringify(path.join(ROOT, 'bin/careos-server.js'))}], { stdio: 'inherit' });
    console.log('server pid ' + child.pid);
    setInterval(() => {}, 1000);
  `], { cwd: ROOT, env: serverEnv(dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  starter.stdout!.on('data', (c) => (output += c));
  starter.stderr!.on('data', (c) => (output += c));
  for (let i = 0; !output.includes('console and API on'); i++) {
    assert.ok(i < 2400, `server did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const serverPid = Number(/server pid (\d+)/.exec(output)![1]);
  const pgPid = postmasterPid(dataDir)!;
  starter.kill('SIGKILL');
  try {
    for (let i = 0; alive(serverPid) || alive(pgPid); i++) {
      assert.ok(i < 300, 'the orphaned server (or its PostgreSQL) is still running after 15 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    // A failure must not leave the orphan running: it holds this test's output pipe open.
    if (alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    if (alive(pgPid)) process.kill(pgPid, 'SIGQUIT');
  }
});

test.run();
