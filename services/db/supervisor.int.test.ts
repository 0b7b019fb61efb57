// The supervisor of the embedded PostgreSQL, in process, against a real embedded server of its own:
// what its status says, when it restarts PostgreSQL and when it must not (a backend crash that
// PostgreSQL recovers from itself, a stop on purpose, a supervisor stopped), and its backoff.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canConnect, ensureEmbedded, readPostmasterPid, running, stopEmbedded } from './embedded.ts';
import { DatabaseSupervisor, type DatabaseStatus } from './supervisor.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-supervisor-'));
const settings = { sharedBuffersMb: 128 };
let supervisor: DatabaseSupervisor | null = null;
let url = '';
let port = 0;

function postmaster(): number {
  return readPostmasterPid(path.join(dataDir, 'pg'))!.pid;
}

async function until(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(supervisor?.status())}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function connects(): Promise<boolean> {
  return canConnect(url, 1000);
}

function status(): DatabaseStatus {
  return supervisor!.status();
}

test.before(async () => {
  const server = await ensureEmbedded(dataDir, settings);
  url = server.connectionString;
  port = server.port;
  supervisor = new DatabaseSupervisor({ dataDir, settings, pollMs: 100, backoff: { initialMs: 100, maxMs: 800 } }).start();
});

test.after(async () => {
  await supervisor?.stop();
  await stopEmbedded(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('supervisor › a running PostgreSQL is up, with no restart and nothing full', async () => {
  await until('up', 5000, () => status().state === 'up');
  const s = status();
  assert.is(s.restarts, 0);
  assert.is(s.diskFull, null);
  assert.is(s.lastExit, undefined);
  assert.match(s.reason, `port ${port}`);
  assert.ok(!Number.isNaN(Date.parse(s.since)));
});

test('supervisor › a crashed backend is PostgreSQL\'s own recovery: its postmaster is not restarted', async () => {
  const pid = postmaster();
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  process.kill(rows[0]!.pid, 'SIGKILL'); // the postmaster ends every backend and recovers
  await client.end().catch(() => undefined);
  await until('PostgreSQL to accept connections again', 30_000, connects);
  await until('the supervisor to see it up', 5000, () => status().state === 'up');
  await new Promise((resolve) => setTimeout(resolve, 500)); // a few more looks (every 100 ms)
  assert.is(postmaster(), pid, 'the same postmaster');
  assert.is(status().restarts, 0);
  assert.is(status().lastExit, undefined);
});

test('supervisor › a postmaster gone is restarted on its port; the status counts it and says how it ended', async () => {
  const pid = postmaster();
  process.kill(pid, 'SIGKILL');
  await until('a restart', 30_000, () => status().restarts === 1 && status().state === 'up');
  const s = status();
  assert.match(s.lastExit!.reason, `postmaster pid ${pid} killed by SIGKILL`);
  assert.ok(Date.parse(s.lastExit!.at) <= Date.now());
  assert.is.not(postmaster(), pid);
  assert.ok(await connects(), 'on the same port: the old URL works');
  assert.is(readPostmasterPid(path.join(dataDir, 'pg'))!.port, port);
});

test('supervisor › a failed restart is tried again with a doubling backoff, and its error is in the status', async () => {
  // A supervisor of its own: its backoff starts from the beginning.
  await supervisor!.stop();
  supervisor = new DatabaseSupervisor({ dataDir, settings, pollMs: 100, backoff: { initialMs: 100, maxMs: 800 } }).start();
  await until('up', 5000, () => status().state === 'up');
  const pid = postmaster();
  process.kill(pid, 'SIGKILL');
  await until('the old postmaster to be gone', 10_000, () => !running(pid));
  // Its port taken by another program: starting there fails until it is free.
  const squatter = net.createServer();
  await until('the port to be ours', 10_000, () => new Promise<boolean>((resolve) => {
    squatter.once('error', () => resolve(false));
    squatter.listen(port, '127.0.0.1', () => resolve(true));
  }));
  try {
    // Waits of 0.1, 0.2, 0.4, 0.8 s at most after attempts 1, 2, 3 …
    for (const [attempt, next] of [[1, '0.2'], [2, '0.4'], [3, '0.8'], [4, '0.8']]) {
      await until(`attempt ${attempt} to fail`, 15_000, () => status().reason.includes(`restart attempt ${attempt} failed`));
      assert.match(status().reason, `next attempt in ${next} s`);
      assert.is(status().state, 'restarting');
    }
    assert.match(status().lastError!, `port ${port}, where it ran, is in use by another program`);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
  await until('the restart once the port is free', 15_000, () => status().restarts === 1 && status().state === 'up');
  assert.is(status().lastError, undefined);
  assert.ok(await connects());
});

test('supervisor › stopped on purpose, PostgreSQL is left stopped; started again, it is supervised again', async () => {
  const restarts = status().restarts;
  assert.ok(await stopEmbedded(dataDir, 'careos db stop'));
  await until('down, stopped on purpose', 5000, () => status().state === 'down' && status().stoppedOnPurpose?.by === 'careos db stop');
  assert.match(status().reason, 'stopped on purpose by careos db stop');
  await new Promise((resolve) => setTimeout(resolve, 1000)); // ten looks
  assert.is(readPostmasterPid(path.join(dataDir, 'pg')), null, 'not started again');
  assert.is(status().restarts, restarts);
  await ensureEmbedded(dataDir, settings); // careos db start, or any careos command
  await until('up again', 5000, () => status().state === 'up');
  assert.is(status().stoppedOnPurpose, undefined);
  const pid = postmaster();
  process.kill(pid, 'SIGKILL');
  await until('a restart: supervised again', 30_000, () => status().restarts === restarts + 1 && status().state === 'up');
});

test('supervisor › once stopped, it never starts PostgreSQL again', async () => {
  await supervisor!.stop();
  const pid = postmaster();
  process.kill(pid, 'SIGKILL');
  await until('the postmaster to be gone', 10_000, () => !running(pid));
  await new Promise((resolve) => setTimeout(resolve, 1000)); // what were ten looks
  const after = readPostmasterPid(path.join(dataDir, 'pg'));
  assert.ok(!after || !running(after.pid), 'nothing runs');
  supervisor = null;
});

test.run();
