// The server's front door, tried as an operator and an attacker would (issue 24, problems 1, 3, 6):
// a request in the start-up window is answered at once, a path with broken percent-encoding is a
// 400 and never stops the process, slow clients are cut off, and a frozen PostgreSQL gives a 503
// in seconds instead of a hang.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, freePort, startTestServer, type TestServer } from '../../test/support/server.ts';
import { ensureEmbedded, stopEmbedded } from '../db/embedded.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET with a hard deadline: its status, or what went wrong ('refused', 'timeout', 'reset'). */
function probe(url: string, timeoutMs: number): Promise<{ status: number | string; ms: number; headers: http.IncomingHttpHeaders; body: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: timeoutMs, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, ms: Date.now() - started, headers: response.headers, body }));
      response.on('error', () => resolve({ status: 'reset', ms: Date.now() - started, headers: {}, body }));
    });
    request.on('timeout', () => {
      request.destroy();
      resolve({ status: 'timeout', ms: Date.now() - started, headers: {}, body: '' });
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (request.destroyed && Date.now() - started >= timeoutMs) return;
      resolve({ status: error.code === 'ECONNREFUSED' ? 'refused' : 'reset', ms: Date.now() - started, headers: {}, body: '' });
    });
  });
}

test('start › every request from spawn until ready is answered within a second: 503 with Retry-After and what it waits for, a page that reloads itself, liveness 200', async () => {
  // The embedded default on a new data directory: initdb and the first start make a window of seconds.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-start-'));
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/careos-server.js')], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', CAREOS_DATA_DIR: dataDir, PORT: String(port), CAREOS_STOP_WITH_PARENT: '1', CAREOS_ADMIN_EMAIL: 'a@example.com', CAREOS_ADMIN_PASSWORD: 'admin-password-1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const base = `http://127.0.0.1:${port}`;
  const seen: { path: string; status: number | string; ms: number }[] = [];
  const starting: Awaited<ReturnType<typeof probe>>[] = [];
  let startingPage: Awaited<ReturnType<typeof probe>> | null = null;
  let liveWhileStarting: Awaited<ReturnType<typeof probe>> | null = null;
  try {
    const deadline = Date.now() + 90_000;
    for (let i = 0; ; i++) {
      assert.ok(Date.now() < deadline, `not ready after 90 s:\n${output}`);
      assert.is(child.exitCode, null, `the server exited:\n${output}`);
      const which = ['/api/ready', '/imports', '/api/health', '/api/imports'][i % 4]!;
      const result = await probe(`${base}${which}`, 1000);
      seen.push({ path: which, status: result.status, ms: result.ms });
      assert.ok(result.status !== 'timeout' && result.status !== 'reset', `${which} was not answered within a second (${result.status}) after ${seen.length} probes:\n${output}`);
      if (which === '/api/ready' && result.status === 503) starting.push(result);
      if (which === '/imports' && result.status === 503) startingPage = result;
      if (which === '/api/health' && result.status === 200 && result.body.includes('starting')) liveWhileStarting = result;
      if (which === '/api/ready' && result.status === 200) break;
      await sleep(50);
    }
    assert.ok(starting.length > 0, `no request came in the start-up window: ${JSON.stringify(seen.slice(0, 20))}`);
    const first = starting[0]!;
    assert.ok(first.headers['retry-after'], 'a 503 while starting says when to try again');
    const report = JSON.parse(first.body) as { ready: boolean; waitingFor: string };
    assert.is(report.ready, false);
    assert.ok(report.waitingFor.length > 0, 'it says what it waits for');
    assert.ok(startingPage, 'a page asked while starting is a 503 page');
    assert.match(startingPage!.body, /http-equiv="refresh"/, 'the starting page reloads itself');
    assert.match(startingPage!.body, /starting/i);
    assert.ok(liveWhileStarting, `liveness answered 200 while starting: ${JSON.stringify(seen.filter((s) => s.path === '/api/health').slice(0, 5))}`);
    // And once ready, the real app answers.
    assert.is((await probe(`${base}/api/health`, 1000)).status, 200);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    await stopEmbedded(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

let server: TestServer;

test('malformed paths › broken percent-encoding in a console, static or API path is a 400 and the server runs on', async () => {
  server = await startTestServer({ CAREOS_HTTP_HEADERS_TIMEOUT_SECONDS: '2', CAREOS_HTTP_IDLE_TIMEOUT_SECONDS: '3' });
  for (const bad of ['/imports/%ZZ', '/%ZZ', '/login/%ZZ', '/_app/%ZZ', '/profiles/%C0%AF', '/api/imports/%ZZ', '/audit/%', '/imports/%E0%A4', '/%ZZ?x=%ZZ']) {
    const result = await probe(`${server.url}${bad}`, 3000);
    assert.is(result.status, 400, `${bad}: ${result.status} ${result.body.slice(0, 200)}`);
    assert.ok(result.headers['x-request-id'], `${bad}: every answer names its request`);
  }
  await sleep(300);
  assert.is(server.process.exitCode, null, `the server exited:\n${server.output()}`);
  assert.is((await probe(`${server.url}/api/ready`, 3000)).status, 200);
  assert.not.match(server.output(), /UnhandledPromiseRejection|unhandled rejection|uncaught/i);
});

test('slow clients › connections that trickle their headers are closed after the headers timeout; a stalled body after the idle timeout; others are served meanwhile', async () => {
  const port = server.port;
  const sockets: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  for (let i = 0; i < 220; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('close', () => closed.add(socket));
    socket.resume(); // read what the server says (its 408), or 'close' never comes
    socket.write(`GET /api/imports HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    sockets.push(socket);
  }
  // One header line a second: never idle, never done.
  const trickle = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write(`X-Slow-${Date.now()}: 1\r\n`);
  }, 1000);
  // A body that stops moving: 10 of 1000 bytes, then nothing.
  const stalled = net.connect(port, '127.0.0.1');
  let stalledClosed = false;
  stalled.on('error', () => undefined);
  stalled.on('close', () => (stalledClosed = true));
  stalled.resume();
  stalled.write(`POST /api/imports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.tokens.admin}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789`);
  try {
    // Served meanwhile.
    const ok = await probe(`${server.url}/api/health`, 2000);
    assert.is(ok.status, 200);
    const deadline = Date.now() + 8000; // headers timeout 2 s (checked each second), idle 3 s
    while ((closed.size < sockets.length || !stalledClosed) && Date.now() < deadline) await sleep(100);
    assert.is(closed.size, sockets.length, `${sockets.length - closed.size} trickling connections still open after ${8} s`);
    assert.ok(stalledClosed, 'the stalled body\'s connection is still open');
  } finally {
    clearInterval(trickle);
    for (const socket of sockets) socket.destroy();
    stalled.destroy();
  }
  assert.is((await probe(`${server.url}/api/ready`, 3000)).status, 200);
  await server.stop();
});

test('frozen postgres › a request answers 503 within seconds (statement and client timeouts), the console a 503 page; all is well once it thaws', async () => {
  const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-frozen-'));
  const embedded = await ensureEmbedded(pgDir);
  const frozen = await startTestServer({ DATABASE_URL: embedded.connectionString, CAREOS_DB_STATEMENT_TIMEOUT_SECONDS: '2' });
  const pids = () => {
    // The postmaster and every backend of this cluster (their command lines name the data directory's port).
    const out: number[] = [embedded.pid];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
        if (new RegExp(`^PPid:\\s+${embedded.pid}$`, 'm').test(status)) out.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  };
  try {
    const headers = { authorization: `Bearer ${frozen.tokens.admin}` };
    assert.is((await fetch(`${frozen.url}/api/imports`, { headers })).status, 200);
    for (const pid of pids()) process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    const api = await fetch(`${frozen.url}/api/imports`, { headers, signal: AbortSignal.timeout(15_000) });
    const apiMs = Date.now() - started;
    assert.is(api.status, 503, await api.text());
    assert.ok(apiMs < 8000, `the API took ${apiMs} ms to say 503`);
    assert.ok(api.headers.get('retry-after'));
    const page = await fetch(`${frozen.url}/imports`, { headers: { cookie: `careos_session=${'A'.repeat(43)}` }, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    assert.is(page.status, 503, (await page.text()).slice(0, 300));
    const ready = await fetch(`${frozen.url}/api/ready`, { signal: AbortSignal.timeout(15_000) });
    assert.is(ready.status, 503);
    assert.is((await fetch(`${frozen.url}/api/health`, { signal: AbortSignal.timeout(3000) })).status, 200, 'liveness: the process answers');
  } finally {
    for (const pid of pids()) process.kill(pid, 'SIGCONT');
  }
  try {
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${frozen.url}/api/imports`, { headers: { authorization: `Bearer ${frozen.tokens.admin}` } })).status;
      if (status !== 200) await sleep(200);
    }
    assert.is(status, 200, 'the API answers again once PostgreSQL thaws');
    assert.is(frozen.process.exitCode, null);
  } finally {
    await frozen.stop();
    await stopEmbedded(pgDir);
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
});

test.run();
