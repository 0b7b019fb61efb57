// Two CLIs at once on one data directory: one embedded PostgreSQL, both imports complete, the
// second file sees the first one's profiles exactly as if they had run one after the other.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureEmbedded, stopEmbedded } from '../db/embedded.ts';
import { writeNanaFile } from '../../test/support/files.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'bin/careos.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-two-'));
const dataDir = path.join(work, 'data');

function careos(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { DATABASE_URL: _d, EVENTSTORE_URL: _e, ...env } = process.env;
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, CAREOS_DATA_DIR: dataDir, CAREOS_READ_BATCH: '500', CAREOS_PROCESS_BATCH: '500' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

test('cli › two imports started at once on one data directory share one PostgreSQL and both finish', async () => {
  const a = path.join(work, 'a.csv');
  const b = path.join(work, 'b.csv');
  writeNanaFile(a, 3000);
  writeNanaFile(b, 3000);
  const [first, second] = await Promise.all([
    careos('import', a, '--source', 'nana', '--json'),
    careos('import', b, '--source', 'nana', '--json'),
  ]);
  assert.is(first.code, 0, first.stderr);
  assert.is(second.code, 0, second.stderr);
  const results = [first, second].map((r) => JSON.parse(r.stdout.trim().split('\n').pop()!));
  for (const r of results) assert.is(r.totalRows, 3000);
  for (const r of results) assert.is(r.importedRows + r.rejectedRows, 3000);
  // Both files hold the same phones: each phone creates one profile across both imports, except
  // force_create rows (every 101st), which create one in each file.
  const created = results[0].importedRows + results[1].importedRows;
  const forced = Math.floor(3000 / 101);
  const stats = JSON.parse((await careos('stats', '--json')).stdout);
  assert.is(stats.imports, 2);
  assert.is(stats.profiles, created);
  assert.ok(created <= 3000 + forced, `no phone got two profiles without force_create (${created} profiles)`);
  const byPhone = JSON.parse((await careos('profiles', '--phone', '0810000001', '--json')).stdout);
  assert.is(byPhone.length, 1);
  const pids = fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0];
  const again = await ensureEmbedded(dataDir);
  assert.is(String(again.pid), pids, 'a later process reuses the running server');
  assert.is(again.startedHere, false);
});

test.after(async () => {
  await stopEmbedded(dataDir);
  fs.rmSync(work, { recursive: true, force: true });
});

test.run();
