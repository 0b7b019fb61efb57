// `npm run bench:load`: the server under load, as people meet it (issue 24). A real server
// (bin/careos-server.js) on a fresh embedded PostgreSQL; five 100,000-row imports uploaded at once
// through the HTTP API while a signed-in browser-like client pages the import log and an error log
// (the console's pages and the API's JSON). Reports p50/p95/max of those requests idle and under
// load, the imports' rows per second, the server's peak RSS, checks every import's counts and runs
// `careos verify`. Bar: p95 under load at most 2x idle and under 100 ms; peak RSS under 450 MB.
//
//   npm run bench:load -- [--imports 5] [--rows 100000] [--dir bench/tmp/load]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { csvField, mobileNumber } from './generate.ts';
import { freePort, stopEmbedded } from '../services/db/embedded.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { imports: { type: 'string', default: '5' }, rows: { type: 'string', default: '100000' }, dir: { type: 'string', default: 'bench/tmp/load' }, out: { type: 'string', default: 'bench/results/load.json' } } });
const IMPORTS = Number(values.imports);
const ROWS = Number(values.rows!.replace(/_/g, ''));
const DIR = path.resolve(values.dir!);
const TOKEN = 'bench-load-admin-token-0123456789';
const ADMIN = { email: 'bench@example.com', password: 'bench-password-123' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * File f of the run: CareOS baseline rows whose ids and phones no other file uses, every 10th row
 * with a phone that is not a number (rejected), so each file's counts are known whatever the others do.
 */
function writeFile(f: number, rows: number): { file: string; imported: number; rejected: number } {
  const file = path.join(DIR, `load-${f}-${rows}.csv`);
  const out = fs.openSync(file, 'w');
  let buffer = 'careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth\n';
  let rejected = 0;
  for (let i = 1; i <= rows; i++) {
    const k = 50_000_000 + f * rows + i;
    const bad = i % 10 === 0;
    if (bad) rejected++;
    buffer += `L${f}${String(i).padStart(7, '0')},${csvField(`Name${i}`)},Load${f},${bad ? '12345' : mobileNumber(k)},,${i % 2 ? 'F' : 'M'},\n`;
    if (buffer.length > 1 << 20) {
      fs.writeSync(out, buffer);
      buffer = '';
    }
  }
  fs.writeSync(out, buffer);
  fs.closeSync(out);
  return { file, imported: rows - rejected, rejected };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(samples: number[]): { n: number; p50: number; p95: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: sorted.length, p50: r(percentile(sorted, 50)), p95: r(percentile(sorted, 95)), max: r(sorted[sorted.length - 1] ?? Number.NaN) };
}

function rss(pid: number): { rss: number; hwm: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

fs.rmSync(DIR, { recursive: true, force: true });
fs.mkdirSync(DIR, { recursive: true });
const dataDir = path.join(DIR, 'data');
console.log(`bench:load: generating ${IMPORTS} files of ${ROWS.toLocaleString('en')} rows…`);
const files = Array.from({ length: IMPORTS }, (_, f) => writeFile(f + 1, ROWS));
const warmup = writeFile(0, 2000);

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  ...process.env, DATABASE_URL: '', CAREOS_DATA_DIR: dataDir, PORT: String(port), CAREOS_STOP_WITH_PARENT: '1',
  CAREOS_API_TOKENS: `${TOKEN}=bench:admin`, CAREOS_ADMIN_EMAIL: ADMIN.email, CAREOS_ADMIN_PASSWORD: ADMIN.password,
};
const server = spawn(process.execPath, [path.join(ROOT, 'bin/careos-server.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
server.stdout!.on('data', (chunk) => (output += chunk));
server.stderr!.on('data', (chunk) => (output += chunk));
async function stop(): Promise<void> {
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
  await stopEmbedded(dataDir);
}

try {
  for (let ready = false; !ready;) {
    if (server.exitCode !== null) throw new Error(`the server exited:\n${output}`);
    ready = await fetch(`${base}/api/ready`).then((r) => r.ok, () => false);
    if (!ready) await sleep(200);
  }
  const auth = { authorization: `Bearer ${TOKEN}` };

  // The first admin must choose a new password before pages open; then a session like a browser's.
  async function signIn(password: string): Promise<string> {
    const response = await fetch(`${base}/login`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ email: ADMIN.email, password }),
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded', 'x-sveltekit-action': 'true' },
    });
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('careos_session='));
    if (!cookie) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
    return cookie.split(';')[0]!;
  }
  const cookie = await signIn(ADMIN.password);

  async function upload(file: string): Promise<string> {
    const form = new FormData();
    form.append('source', 'careos');
    form.append('file', new Blob([fs.readFileSync(file)], { type: 'text/csv' }), path.basename(file));
    const response = await fetch(`${base}/api/imports`, { method: 'POST', headers: auth, body: form });
    if (response.status !== 202) throw new Error(`upload of ${file}: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { importId: string }).importId;
  }
  async function waitFor(importId: string): Promise<{ status: string; importedRows: number; rejectedRows: number; totalRows: number }> {
    for (;;) {
      const view = (await (await fetch(`${base}/api/imports/${importId}`, { headers: auth })).json()) as { status: string; importedRows: number; rejectedRows: number; totalRows: number };
      if (view.status !== 'In progress') return view;
      await sleep(250);
    }
  }

  // An import with rejected rows, so that an error log can be paged.
  const warmupId = await upload(warmup.file);
  await waitFor(warmupId);

  // What the client asks, in turn: the import log page and its JSON, an error log page and its JSON.
  const targets = [
    { name: 'import log page', url: `${base}/imports`, headers: { cookie } },
    { name: 'import log API', url: `${base}/api/imports?limit=50`, headers: { cookie } },
    { name: 'error log page', url: `${base}/imports/${warmupId}/errors`, headers: { cookie } },
    { name: 'error log API', url: `${base}/api/imports/${warmupId}/errors?limit=50&offset=100`, headers: { cookie } },
  ];
  async function page(samples: Map<string, number[]>, target: (typeof targets)[number]): Promise<void> {
    const started = performance.now();
    const response = await fetch(target.url, { headers: target.headers });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${target.name}: ${response.status}`);
    const list = samples.get(target.name) ?? [];
    list.push(performance.now() - started);
    samples.set(target.name, list);
  }

  const idle = new Map<string, number[]>();
  for (let i = 0; i < 200; i++) await page(idle, targets[i % targets.length]!);

  console.log(`bench:load: ${IMPORTS} imports of ${ROWS.toLocaleString('en')} rows at once, the client paging meanwhile…`);
  const loaded = new Map<string, number[]>();
  const started = performance.now();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rss(server.pid!).rss)), 200);
  const ids = await Promise.all(files.map((f) => upload(f.file)));
  const uploadedSeconds = (performance.now() - started) / 1000;
  const results: Awaited<ReturnType<typeof waitFor>>[] = [];
  const finished = Promise.all(ids.map((id) => waitFor(id))).then((views) => results.push(...views));
  let done = false;
  void finished.then(() => (done = true));
  for (let i = 0; !done; i++) await page(loaded, targets[i % targets.length]!);
  const wallSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const hwm = rss(server.pid!).hwm;

  const checks = files.map((f, i) => {
    const view = results[i]!;
    return { importId: ids[i], status: view.status, imported: view.importedRows, rejected: view.rejectedRows, expected: { imported: f.imported, rejected: f.rejected }, ok: view.importedRows === f.imported && view.rejectedRows === f.rejected };
  });
  const verify = spawnSync(process.execPath, [path.join(ROOT, 'bin/careos.js'), 'verify'], { cwd: ROOT, env, encoding: 'utf8' });

  const report = {
    at: new Date().toISOString(), imports: IMPORTS, rowsPerImport: ROWS,
    requests: Object.fromEntries(targets.map((t) => [t.name, { idle: summary(idle.get(t.name) ?? []), underLoad: summary(loaded.get(t.name) ?? []) }])),
    all: { idle: summary([...idle.values()].flat()), underLoad: summary([...loaded.values()].flat()) },
    imports_: { uploadSeconds: Math.round(uploadedSeconds * 10) / 10, wallSeconds: Math.round(wallSeconds * 10) / 10, rowsPerSecond: Math.round((IMPORTS * ROWS) / wallSeconds) },
    server: { peakRssMb: Math.round(Math.max(peakRss, hwm) / 1024 / 1024) },
    checks, verify: { exitCode: verify.status, output: (verify.stdout + verify.stderr).trim().split('\n').slice(-3).join(' | ') },
  };
  const bar = {
    p95UnderTwiceIdle: report.all.underLoad.p95 <= 2 * report.all.idle.p95,
    p95Under100ms: report.all.underLoad.p95 < 100,
    peakRssUnder450Mb: report.server.peakRssMb < 450,
    countsRight: checks.every((c) => c.ok),
    verifyPassed: verify.status === 0,
  };
  fs.mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  fs.writeFileSync(path.resolve(values.out!), `${JSON.stringify({ ...report, bar }, null, 2)}\n`);

  const row = (name: string, s: { idle: ReturnType<typeof summary>; underLoad: ReturnType<typeof summary> }) =>
    `| ${name} | ${s.idle.p50} / ${s.idle.p95} / ${s.idle.max} | ${s.underLoad.p50} / ${s.underLoad.p95} / ${s.underLoad.max} (${s.underLoad.n}) |`;
  console.log('\n| request | idle p50 / p95 / max ms | under load p50 / p95 / max ms (n) |\n| --- | --- | --- |');
  for (const t of targets) console.log(row(t.name, report.requests[t.name]!));
  console.log(row('all', report.all));
  console.log(`\nimports: ${IMPORTS} x ${ROWS.toLocaleString('en')} rows in ${report.imports_.wallSeconds} s (${report.imports_.rowsPerSecond.toLocaleString('en')} rows/s; uploads took ${report.imports_.uploadSeconds} s); server peak RSS ${report.server.peakRssMb} MB`);
  console.log(`counts: ${checks.filter((c) => c.ok).length}/${checks.length} right; careos verify exit ${verify.status} (${report.verify.output})`);
  console.log(`bar: ${Object.entries(bar).map(([k, v]) => `${k} ${v ? 'yes' : 'NO'}`).join(', ')}`);
  if (!bar.countsRight || !bar.verifyPassed) process.exitCode = 1;
} finally {
  await stop();
}
