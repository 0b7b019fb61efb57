// Disk full under an upload: the server's incoming directory (where an upload is received) on a
// small tmpfs. (The importer's stored copy is kept in PostgreSQL: PostgreSQL out of space is
// services/db/supervisor.e2e.test.ts's, and a 507 too.) An upload
// that does not fit is a 507 problem+json saying which directory's filesystem is full, what is
// free there and what the upload needs; nothing is left of it and no import is started. With
// room again, the same file is accepted (202) and imported to its end.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signInCookie, startTestServer, type TestServer } from '../../test/support/server.ts';
import { writeNanaFile } from '../../test/support/files.ts';

let server: TestServer;
let incoming = '';
const mounted: string[] = [];
let skipped: string | null = null;
let file = '';
const ROWS = 15_000;

function mount(directory: string, size: string): string | null {
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', directory], { encoding: 'utf8' });
  if (result.status !== 0) return `cannot mount a tmpfs here (${(result.stderr || result.error?.message || `exit ${result.status}`).trim()})`;
  mounted.push(directory);
  return null;
}

function unmount(directory: string): void {
  spawnSync('umount', [directory]);
  mounted.splice(mounted.indexOf(directory), 1);
}

function bearer(): Record<string, string> {
  return { authorization: `Bearer ${server.tokens.admin}` };
}

function upload(fileName: string): Promise<Response> {
  const form = new FormData();
  form.append('source', 'nana');
  form.append('file', new Blob([fs.readFileSync(file)], { type: 'text/csv' }), fileName);
  return fetch(`${server.url}/api/imports`, { method: 'POST', headers: bearer(), body: form });
}

async function importLog(): Promise<unknown[]> {
  const response = await fetch(`${server.url}/api/imports`, { headers: bearer() });
  assert.is(response.status, 200);
  return (await response.json()) as unknown[];
}

/** The directory's files, waiting up to 2 s for them to be gone (a received file is removed once its answer is sent). */
async function filesLeftIn(directory: string): Promise<string[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const left = fs.existsSync(directory) ? fs.readdirSync(directory) : [];
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Problem {
  status: number;
  title: string;
  detail: string;
  where: string;
  freeBytes: number;
  neededBytes: number | null;
}

async function expect507(response: Response, where: string): Promise<Problem> {
  const text = await response.text();
  assert.is(response.status, 507, `${response.status} ${text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(text) as Problem;
  assert.is(problem.status, 507);
  assert.is(problem.title, 'Insufficient storage');
  assert.is(problem.where, where);
  assert.ok(problem.detail.includes(where), problem.detail);
  assert.match(problem.detail, /is full \(.* free of .*; it needs .*\)/);
  assert.type(problem.freeBytes, 'number');
  return problem;
}

test.before(async () => {
  server = await startTestServer();
  incoming = path.join(server.dataDir, 'incoming');
  file = path.join(server.dataDir, 'nana-big.csv');
  writeNanaFile(file, ROWS);
  skipped = mount(incoming, '1m');
});

test.after(async () => {
  await server?.stop().catch(() => undefined);
  for (const directory of [...mounted]) unmount(directory);
});

test('disk full › an upload larger than the incoming directory\'s free space is a 507 naming it, with free and needed bytes; nothing is left, nothing started', async () => {
  if (skipped) return console.log(`SKIPPED: ${skipped}`);
  const size = fs.statSync(file).size;
  const problem = await expect507(await upload('nana-big.csv'), incoming);
  assert.ok(problem.neededBytes! >= size, `needs ${problem.neededBytes}, the file is ${size} bytes`);
  assert.ok(problem.freeBytes < problem.neededBytes!, `free ${problem.freeBytes} < needed ${problem.neededBytes}`);
  assert.equal(await filesLeftIn(incoming), [], 'no partial file left');
  assert.equal(await importLog(), [], 'no import started');
  assert.match(server.output(), `disk full: ${incoming}`);
});

test('disk full › readiness says which disk is full, and every console page shows it in a banner', async () => {
  if (skipped) return console.log(`SKIPPED: ${skipped}`);
  const ready = await fetch(`${server.url}/api/ready`);
  const report = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
  assert.is(ready.status, 503, JSON.stringify(report));
  assert.is(report.checks.disk?.ok, false);
  assert.ok(report.checks.disk!.detail.includes(incoming), report.checks.disk!.detail);
  const cookie = await signInCookie(server, server.users.admin);
  // The banner follows readiness, refreshed every 2 s.
  let html = '';
  for (let i = 0; i < 40 && !html.includes('data-testid="server-banner"'); i++) {
    html = await (await fetch(`${server.url}/imports`, { headers: { cookie } })).text();
    if (!html.includes('data-testid="server-banner"')) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.match(html, /data-testid="server-banner"[^>]*>A disk is full/);
  assert.ok(html.includes(incoming), 'the banner names the full directory');
});

test('disk full › with room again the same upload is accepted and imported to its end', async () => {
  if (skipped) return console.log(`SKIPPED: ${skipped}`);
  spawnSync('mount', ['-o', 'remount,size=8m', incoming]); // the upload fits now
  const response = await upload('nana-big.csv');
  assert.is(response.status, 202, await response.clone().text());
  const { importId } = (await response.json()) as { importId: string };
  const deadline = Date.now() + 90_000;
  for (;;) {
    const view = (await (await fetch(`${server.url}/api/imports/${importId}`, { headers: bearer() })).json()) as { status: string; totalRows: number | null };
    if (view.status !== 'In progress') {
      assert.is(view.totalRows, ROWS);
      break;
    }
    assert.ok(Date.now() < deadline, `the import did not end:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(await filesLeftIn(incoming), []);
  assert.is((await importLog()).length, 1);
  assert.match(server.output(), `disk space is back: ${incoming}`);
  assert.not.match(server.output(), /request failed|Internal Server Error|unhandled rejection|uncaught exception/i);
});

test.run();
