// The benchmark: `npm run bench -- [--rows N] [--careshop-rows N] [--standard-only] [--keep] [--profile]` (default 1,000,000 rows;
// the Care Shop scenario syncs min(rows, 100,000) records unless told otherwise).
//
// Generates a CareOS baseline and a Nana file (bench/generate.ts), imports both with a real
// `careos import` child process in a fresh data directory on the embedded PostgreSQL, and times
// the Nana import from spawn to exit. Where the time went is read from outside the importer
// (stream revision, processor counters, import log, pg_stat_activity samples, /proc for the
// importer's peak RSS and CPU and PostgreSQL's CPU), so the benchmark needs no hooks in the code
// it measures; with --profile the importer runs under node --cpu-prof (every thread). Two anchors
// put the number in context: raw COPY of the same file (the physical floor; the median of three) and a naive
// row-by-row importer. Results: a markdown table on stdout, bench/results/latest.{json,md}.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { openApp } from '../services/app.ts';
import { getImport, type ImportView } from '../projections/import-log.ts';
import { loadConfig, type Config } from '../services/config.ts';
import { alive, stopEmbedded } from '../services/db/embedded.ts';
import { LOCKS } from '../services/db/locks.ts';
import { resolveDatabaseUrl } from '../services/db/pool.ts';
import { eventId } from '../services/events/ids.ts';
import { checkEvent } from '../services/events/schemas.ts';
import { streams, type SourceName } from '../services/events/types.ts';
import { checkPhones } from '../services/processor/fields.ts';
import { readRowReceived, recordKeys, storedRowReceived } from '../services/events/row-received.ts';
import { nana } from '../services/processor/nana.ts';
import { bangkokDate } from '../services/processor/rules.ts';
import type { GeneratedFiles, GeneratedScenario, Scenario } from './generate.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const NAIVE_ROWS = 20_000;
const IN_PROCESS_ROWS = 100_000;
const SAMPLE_MS = 100;
const MB = 1024 * 1024;

export interface BenchmarkOptions {
  rows: number;
  /** The importer's data directory (embedded PostgreSQL, uploads). Deleted first unless keep. */
  dataDir: string;
  /** Where the generated CSV files go; defaults to the data directory's parent. */
  filesDir?: string;
  /** Keep an existing data directory and leave the embedded server running at the end. */
  keep?: boolean;
  /** Write bench/results/latest.{json,md}. */
  write?: boolean;
  resultsDir?: string;
  /** Progress lines; silent when absent. */
  log?: (line: string) => void;
  /** CPU-profile the Nana import (this process): a .cpuprofile in filesDir and a summary in the results. */
  profile?: boolean;
  /** Also run the "remaps and mapping errors" scenario (default true). */
  remap?: boolean;
  /** Records of the Care Shop scenario (0: skip it); default min(rows, 100,000). */
  careshopRows?: number;
}

export interface CpuProfileSummary {
  file: string;
  /** Self time by where the code lives (package, services file, GC, idle…), in seconds. */
  byArea: { area: string; seconds: number; share: number }[];
  /** The functions with the most self time. */
  byFunction: { fn: string; seconds: number; share: number }[];
}

export interface StageTiming {
  stage: string;
  /** Seconds since `careos import` was started. */
  endsAt: number;
  seconds: number;
  rowsPerSecond: number | null;
}

export interface ProgressSample {
  /** Seconds since `careos import` was started. */
  at: number;
  /** RowReceived events in the import stream. */
  received: number;
  /** Rows the processor has decided (processor_import). */
  decided: number;
  /** Rows the read models show (import log, moved every 10,000 rows and at the end). */
  projected: number;
  rssMB: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  rows: number;
  bytes: number;
  endToEnd: { seconds: number; rowsPerSecond: number };
  import: {
    importId: string; status: string; totalRows: number; importedRows: number; rejectedRows: number;
    rejectionsByCode: Record<string, number>;
    expected: { imported: number; rejected: number };
    matchesExpected: boolean;
    /** Nana ids in the file that repeat an id of an earlier row. */
    reappearingIds: number;
    /** Relations this import unlinked (an id linked elsewhere before). */
    unlinkedRelations: number;
  };
  copy: CopyAnchor;
  /** COPY rows/s of its own file ÷ its end-to-end rows/s. */
  ratioToCopy: number;
  memory: { peakRssMB: number };
  cpu: { nodeSeconds: number; postgresSeconds: number | null };
}

/** The Care Shop scenario: a sync of the seeded demo table, after the Nana imports (same database). */
export interface CareshopResult {
  rows: number;
  seedSeconds: number;
  endToEnd: { seconds: number; rowsPerSecond: number };
  import: { importId: string; status: string; totalRows: number; importedRows: number; rejectedRows: number; skippedRows: number };
  seeded: { sameProfile: number; samePhone: number; invalidPhone: number };
  /** COPY of the same records (exported from the shop table as CSV) into an unindexed table. */
  copy: CopyAnchor;
  ratioToCopy: number;
  memory: { peakRssMB: number };
  cpu: { nodeSeconds: number; postgresSeconds: number | null };
  /** What the importer's PostgreSQL sessions were doing during the sync. */
  postgresActivity: BenchmarkResult['postgresActivity'];
}

export interface BenchmarkResult {
  date: string;
  rows: number;
  /** The code measured: HEAD and whether tracked files differ from it. */
  git: { commit: string; dirty: boolean } | null;
  machine: { cores: number; cpu: string; totalMemoryMB: number; node: string; postgres: string; platform: string };
  config: { eventStore: string; readBatchRows: number; processBatchRows: number; sharedBuffers?: string };
  files: { nanaBytes: number; bytesPerRow: number; baselineRows: number; generateSeconds: number };
  baseline: { seconds: number; rowsPerSecond: number; status: string; totalRows: number; importedRows: number; rejectedRows: number };
  endToEnd: { seconds: number; rowsPerSecond: number };
  import: {
    importId: string;
    status: string;
    totalRows: number;
    importedRows: number;
    rejectedRows: number;
    rejectionsByCode: Record<string, number>;
    expected: { imported: number; rejected: number };
    matchesExpected: boolean;
  };
  stages: StageTiming[];
  progress: ProgressSample[];
  /** The "remaps and mapping errors" scenario at the same size, in the same PostgreSQL, after the standard one. */
  remap?: ScenarioResult;
  careshop?: CareshopResult;
  /** nodeSeconds: user + system CPU of the `careos import` process, every thread. */
  cpu: { wallSeconds: number; nodeSeconds: number; postgresSeconds: number | null };
  /** VmHWM of the `careos import` processes. */
  memory: { peakRssMB: number; baselinePeakRssMB: number };
  database: { sizeMB: number; sizeAfterAnchorsMB: number; largestTables: { table: string; MB: number }[] };
  anchors: {
    copy: CopyAnchor;
    naive: { rows: number; seconds: number; rowsPerSecond: number };
    /** copy rows/s ÷ end-to-end rows/s: how far from the physical floor. */
    ratioToCopy: number;
    /** end-to-end rows/s ÷ naive rows/s: how much better than row-by-row. */
    ratioToNaive: number;
  };
  inProcess: {
    rows: number;
    csvParseMicrosPerRow: number;
    checkMicrosPerRow: number;
    checkPhonesMicrosPerRow: number;
    jsonRoundTripMicrosPerRow: number;
    eventIdMicrosPerRow: number;
    schemaCheckMicrosPerRow: number;
  };
  /**
   * pg_stat_activity sampled every 100 ms: the average number of active importer sessions (parallel
   * workers included) per statement and wait event; 1.0 = one session busy with it all the time.
   */
  postgresActivity: { statement: string; wait: string; avgSessions: number }[];
  /** A file as large as the Nana file, refused for its header by the real CLI, timed from spawn to exit. */
  refusal: { fileMB: number; milliseconds: number; exitCode: number | null; message: string };
  /**
   * A Nana import killed (SIGKILL) mid-way, then `careos resume`: when the new process took the
   * leader lock, and how long after that the processor's first commit came. Its own data directory.
   */
  resume?: ResumeTiming;
  /** With --profile: where the `careos import` process spent the import, every thread. */
  cpuProfile?: CpuProfileSummary;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// --- measuring from outside --------------------------------------------------------------------

/** Memory of the importing process (a `careos import` child), read from /proc. */
class ChildSampler {
  /** VmHWM: the kernel's own peak resident set of the process, all threads. */
  peak = 0;
  constructor(private readonly pid: number) {}
  /** Current resident set in bytes (0 once the process is gone); moves the peak on. */
  sample(): number {
    try {
      const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
      this.peak = Math.max(this.peak, kb('VmHWM'));
      return kb('VmRSS');
    } catch {
      return 0;
    }
  }
}

/** CPU seconds of this process's waited-for children (the `careos import` runs), from /proc/self/stat. */
function childrenCpuSeconds(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / ticksPerSecond();
}

let clockTicks: number | null = null;

function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU seconds used so far by the embedded PostgreSQL: the postmaster, its live children (backends,
 * WAL writer, checkpointer…) and, through the postmaster's cutime, children that have exited.
 * Linux only (/proc); null elsewhere.
 */
export function postgresCpuSeconds(dataDir: string): number | null {
  if (process.platform !== 'linux') return null;
  let postmaster: number;
  try {
    postmaster = Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  let ticks = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after "pid (comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const cpu = (i: number) => Number(fields[i - 3]);
    if (pid === postmaster) ticks += cpu(14) + cpu(15) + cpu(16) + cpu(17);
    else if (Number(fields[1]) === postmaster) ticks += cpu(14) + cpu(15);
  }
  return ticks / ticksPerSecond();
}

/** Statement text short enough to group samples by: whitespace collapsed, first 60 characters. */
function statementKey(query: string): string {
  return query.replace(/\s+/g, ' ').trim().slice(0, 60);
}

interface WatchedImport {
  importId: string;
  timeline: ProgressSample[];
  activity: Map<string, number>;
  activitySamples: number;
  /** Seconds (since start) of the first sample where the processor had decided every row. */
  allDecidedAt: number | null;
  firstDecidedAt: number | null;
  /** Seconds of the first sample where the file was read to its end (ImportFileRead appended). */
  fileReadAt: number | null;
}

/**
 * Polls an import every 100 ms on its own connection (so it never takes one from the importer's
 * pool): rows appended to its stream, rows the processor decided, rows the read models show, and
 * what the importer's PostgreSQL sessions are doing.
 */
function watchImport(monitor: pg.Client, watch: { importId: string; rows: number; started: number }, rss: ChildSampler, log?: (line: string) => void) {
  const { importId, rows, started } = watch;
  const watched: WatchedImport = { importId, timeline: [], activity: new Map(), activitySamples: 0, allDecidedAt: null, firstDecidedAt: null, fileReadAt: null };
  let running = true;
  let lastLog = 0;
  const sampleOnce = async () => {
    const at = (performance.now() - started) / 1000;
    const { rows: counts } = await monitor.query<{ decided: number | null; total: number | null; projected: number | null }>(
      `select (select processed_rows from processor_import where import_id = $1) as decided,
              (select total_rows from processor_import where import_id = $1) as total,
              (select processed_rows from import_log where import_id = $1) as projected`,
      [importId],
    );
    // Row N is stream revision N (ImportStarted is 0); ImportFileRead, one past the last row, is not a row.
    const revision = (await monitor.query<{ revision: number | null }>('select max(revision) as revision from es_events where stream_id = $1', [streams.import(importId)])).rows[0]?.revision ?? null;
    const received = revision === null ? 0 : Math.min(Number(revision), rows);
    if (revision !== null && Number(revision) > rows && watched.fileReadAt === null) watched.fileReadAt = at;
    const decided = counts[0]?.decided ?? 0;
    const total = counts[0]?.total ?? null;
    const projected = counts[0]?.projected ?? 0;
    const { rows: activity } = await monitor.query<{ query: string; wait: string | null }>(
      `select query, wait_event_type || ':' || wait_event as wait from pg_stat_activity
        where state = 'active' and application_name = 'careos-importer' and datname = current_database()`,
    );
    watched.timeline.push({ at: round(at), received, decided, projected, rssMB: round(rss.sample() / MB, 0) });
    if (decided > 0 && watched.firstDecidedAt === null) watched.firstDecidedAt = at;
    if (total !== null && decided >= total && watched.allDecidedAt === null) watched.allDecidedAt = at;
    watched.activitySamples++;
    for (const r of activity) {
      const key = `${statementKey(r.query)}\u0000${r.wait ?? 'CPU'}`;
      watched.activity.set(key, (watched.activity.get(key) ?? 0) + 1);
    }
    if (log && at - lastLog >= 5) {
      lastLog = at;
      log(`  ${at.toFixed(0).padStart(5)} s  received ${received.toLocaleString('en-US')}  decided ${decided.toLocaleString('en-US')}  projected ${projected.toLocaleString('en-US')}  peak rss ${(rss.peak / MB).toFixed(0)} MB`);
    }
  };
  const loop = (async () => {
    while (running) {
      try {
        await sampleOnce();
      } catch (error) {
        log?.(`monitor: ${(error as Error).message}`);
      }
      await sleep(SAMPLE_MS);
    }
  })();
  return {
    async stop(): Promise<WatchedImport> {
      if (!running) return watched;
      running = false;
      await loop;
      await sampleOnce().catch(() => undefined); // the finished state, for the timeline
      return watched;
    },
  };
}

// --- the import, end to end --------------------------------------------------------------------

interface ImportRun {
  importId: string;
  seconds: number;
  storedAt: number;
  readAt: number;
  finalAt: number;
  view: ImportView;
  watched: WatchedImport;
  /** VmHWM of the `careos import` process. */
  peakRssBytes: number;
  /** User + system CPU of the `careos import` process, every thread. */
  cpuSeconds: number;
}

const CLI = path.resolve(BENCH_DIR, '..', 'bin', 'careos.js');

export interface ResumeTiming {
  /** Rows decided when the import was killed. */
  killedAtRows: number;
  /** From spawning careos resume to its engine holding the leader lock (process start, migrations, election). */
  leaderAfterMs: number;
  /** From holding the leader lock to the first commit of the resumed processor. */
  firstCommitAfterLeaderMs: number;
}

/**
 * Kills a `careos import` (SIGKILL) once it has decided `killAt` rows, then runs `careos resume`
 * and watches from outside: the leader lock in pg_locks, the decided rows in processor_import.
 * The resume is stopped (SIGTERM) after its first commit: only the restart is measured.
 */
async function resumeAnchor(dataDir: string, file: string, killAt: number): Promise<ResumeTiming> {
  await stopEmbedded(dataDir);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const monitor = new pg.Client({ connectionString: await resolveDatabaseUrl(openConfig(dataDir)), application_name: 'careos-bench' });
  await monitor.connect();
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, ...env } = process.env;
  const careos = (...args: string[]) => spawn(process.execPath, [CLI, ...args], { env: { ...env, CAREOS_DATA_DIR: dataDir }, stdio: 'ignore' });
  const decided = async () => (await monitor.query<{ n: number }>('select coalesce(sum(processed_rows), 0)::int as n from processor_import').catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n;
  const leaders = async () => (await monitor.query<{ n: number }>(
    "select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = 0 and objid = $1 and granted", [LOCKS.leader],
  )).rows[0]!.n;
  try {
    const importing = careos('import', file, '--source', 'nana', '--by', 'bench');
    const importExited = new Promise((resolve) => importing.on('exit', resolve));
    while ((await decided()) < killAt) {
      if (importing.exitCode !== null) throw new Error('the import ended before it could be killed');
      await sleep(20);
    }
    importing.kill('SIGKILL');
    await importExited;
    const killedAtRows = await decided();
    while ((await leaders()) > 0) await sleep(10); // PostgreSQL notices the dead connection
    const started = performance.now();
    const resuming = careos('resume');
    const resumeExited = new Promise((resolve) => resuming.on('exit', resolve));
    let leaderAt: number | null = null;
    let firstCommitAt: number | null = null;
    while (firstCommitAt === null) {
      if (resuming.exitCode !== null) throw new Error('careos resume ended before its first commit');
      if (leaderAt === null && (await leaders()) > 0) leaderAt = performance.now();
      if (leaderAt !== null && (await decided()) > killedAtRows) firstCommitAt = performance.now();
      else await sleep(5);
    }
    resuming.kill('SIGTERM');
    await resumeExited;
    return {
      killedAtRows, leaderAfterMs: Math.round(leaderAt! - started), firstCommitAfterLeaderMs: Math.round(firstCommitAt - leaderAt!),
    };
  } finally {
    await monitor.end().catch(() => undefined);
    await stopEmbedded(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * A real `careos import` in a child process, as an admin runs it, on the bench's data directory:
 * it starts its engine, reads the file and waits for the import log. Timed from spawn to exit;
 * its peak RSS and CPU are its own, not this harness's.
 */
async function runImport(
  monitor: pg.Client, dataDir: string, file: { path: string; rows: number; source: SourceName }, log?: (line: string) => void,
  cpuProfileDir?: string, command: string[] = ['import', file.path, '--source', file.source],
): Promise<ImportRun> {
  const { rows: known } = await monitor.query<{ import_id: string }>('select import_id from import_log');
  const before = new Set(known.map((r) => r.import_id));
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const since = () => (performance.now() - started) / 1000;
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, ...env } = process.env;
  const child = spawn(process.execPath, [
    ...(cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : []),
    CLI, ...command, '--by', 'bench', '--json',
  ], { env: { ...env, CAREOS_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const rss = new ChildSampler(child.pid!);
  // The import log lists an import from the moment ImportStarted is appended.
  let importId: string | null = null;
  while (!importId) {
    rss.sample();
    const { rows: found } = await monitor.query<{ import_id: string }>('select import_id from import_log order by import_date desc limit 5');
    importId = found.map((r) => r.import_id).find((id) => !before.has(id)) ?? null;
    if (!importId && (await Promise.race([exited.then(() => true), sleep(20).then(() => false)]))) {
      throw new Error(`careos ${command[0]} exited before starting the import: ${stderr.trim()}`);
    }
  }
  const storedAt = since();
  const watcher = watchImport(monitor, { importId, rows: file.rows, started }, rss, log);
  const code = await exited;
  const finalAt = since();
  const watched = await watcher.stop();
  if (code !== 0) throw new Error(`careos ${command[0]} exited with ${code}: ${stderr.trim()}`);
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { importId: string };
  if (summary.importId !== importId) throw new Error(`watched import ${importId}, but careos imported ${summary.importId}`);
  const view = (await getImport(monitor, importId))!;
  return {
    importId, seconds: finalAt, storedAt, readAt: watched.fileReadAt ?? finalAt, finalAt, view, watched,
    peakRssBytes: rss.peak, cpuSeconds: childrenCpuSeconds() - cpuBefore,
  };
}

// --- anchors -----------------------------------------------------------------------------------

const NANA_COLUMNS = nana.columns.map((c) => c.name);

/** Raw COPY of a file: the median of COPY_RUNS runs (and each run's seconds, in order). */
export interface CopyAnchor {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  runs: number[];
}

/**
 * COPY of the same million rows measured 2.17–2.75 s from one run to the next on the same
 * machine, and every ratio divides by it: the anchor is the median of three.
 */
const COPY_RUNS = 3;

/** The physical floor: COPY of the same file into an unindexed table of text columns (the last run's rows stay). */
async function copyAnchor(
  client: pg.PoolClient, file: string, table = 'nana_copy', columns: readonly string[] = NANA_COLUMNS,
): Promise<CopyAnchor> {
  const runs: number[] = [];
  for (let run = 0; run < COPY_RUNS; run++) {
    await client.query(`drop table if exists bench_anchor.${table}; create table bench_anchor.${table} (${columns.map((c) => `${c} text`).join(', ')})`);
    const started = performance.now();
    await pipeline(
      fs.createReadStream(file, { highWaterMark: 1 << 20 }),
      client.query(copyFrom(`copy bench_anchor.${table} (${columns.join(', ')}) from stdin (format csv, header)`)),
    );
    runs.push(round((performance.now() - started) / 1000, 3));
  }
  const seconds = [...runs].sort((a, b) => a - b)[Math.floor(COPY_RUNS / 2)]!;
  const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from bench_anchor.${table}`);
  return { rows: rows[0]!.n, seconds, rowsPerSecond: Math.round(rows[0]!.n / seconds), runs };
}

/** A later scenario's raw COPY anchor: its own table beside the first scenario's, on a connection of its own. */
async function copyAnchorAside(
  pool: pg.Pool, file: string, table: string, columns: readonly string[] = NANA_COLUMNS,
): Promise<CopyAnchor> {
  const client = await pool.connect();
  try {
    await client.query(`create schema if not exists bench_anchor; drop table if exists bench_anchor.${table}`);
    return await copyAnchor(client, file, table, columns);
  } finally {
    client.release();
  }
}

/**
 * The naive importer: per row csv-parse, the same field checks, a select-by-phone duplicate
 * check and one INSERT, each statement its own transaction (autocommit).
 */
async function naiveAnchor(client: pg.PoolClient, file: string, limit: number): Promise<{ rows: number; seconds: number; rowsPerSecond: number }> {
  await client.query(`
    create table bench_anchor.naive_profile (
      id bigserial primary key, careos_id text, nana_ids text[] not null, firstname text not null, lastname text not null,
      gender text, date_of_birth date, emails text[] not null, phones text[] not null, companies text[] not null, force_create boolean not null
    );
    create index on bench_anchor.naive_profile using gin (phones);
    create table bench_anchor.naive_error (id bigserial primary key, row_number integer not null, record jsonb not null, reasons jsonb not null);
  `);
  const today = bangkokDate(new Date().toISOString());
  const started = performance.now();
  let row = 0;
  const parser = fs.createReadStream(file).pipe(parse({ bom: true, columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), relax_column_count: true, to_line: limit + 1 }));
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    row++;
    const checked = nana.check(record, today);
    if (!checked.ok) {
      await client.query('insert into bench_anchor.naive_error (row_number, record, reasons) values ($1, $2, $3)', [row, record, JSON.stringify(checked.reasons)]);
      continue;
    }
    const value = checked.value;
    if (value.careosId === null && !value.forceCreate) {
      const owner = await client.query('select id from bench_anchor.naive_profile where phones && $1::text[] limit 1', [value.phones]);
      if (owner.rowCount) {
        await client.query('insert into bench_anchor.naive_error (row_number, record, reasons) values ($1, $2, $3)', [
          row, record, JSON.stringify([{ field: 'phone', code: 'duplicate-phone' }]),
        ]);
        continue;
      }
    }
    await client.query(
      `insert into bench_anchor.naive_profile (careos_id, nana_ids, firstname, lastname, gender, date_of_birth, emails, phones, companies, force_create)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [value.careosId, value.nanaIds, value.firstname, value.lastname, value.gender, value.dateOfBirth, value.emails, value.phones, value.companies, value.forceCreate],
    );
  }
  const seconds = (performance.now() - started) / 1000;
  return { rows: row, seconds: round(seconds, 3), rowsPerSecond: Math.round(row / seconds) };
}

/**
 * Refusal speed: the Nana file with one header name changed in place (same size), imported with
 * the real CLI. It must answer from the head of the file, whatever its size.
 */
function refusalAnchor(nanaFile: string, filesDir: string): BenchmarkResult['refusal'] {
  const bad = path.join(filesDir, `bad-header-${path.basename(nanaFile)}`);
  fs.copyFileSync(nanaFile, bad);
  const fd = fs.openSync(bad, 'r+');
  try {
    fs.writeSync(fd, Buffer.from('careos_cus_ix'), 0, 13, 0); // was careos_cus_id: same length
  } finally {
    fs.closeSync(fd);
  }
  const started = performance.now();
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/careos.js'), 'import', bad, '--source', 'nana', '--json'], { encoding: 'utf8' });
  const milliseconds = Math.round(performance.now() - started);
  const fileMB = round(fs.statSync(bad).size / MB, 1);
  fs.rmSync(bad, { force: true });
  return { fileMB, milliseconds, exitCode: result.status, message: result.stderr.trim().split('\n')[0] ?? '' };
}

// --- in-process costs --------------------------------------------------------------------------

/** The reader's csv-parse settings, on the first `limit` rows: parse only. */
async function csvParseOnly(file: string, limit: number): Promise<{ rows: number; seconds: number }> {
  const started = performance.now();
  let rows = 0;
  const parser = fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(
    parse({ bom: true, from_line: 2, to_line: limit + 1, relax_column_count: true, skip_empty_lines: true }),
  );
  for await (const _values of parser as AsyncIterable<string[]>) rows++;
  return { rows, seconds: (performance.now() - started) / 1000 };
}

/**
 * Per-row work of the pipeline, each alone, timed per 10,000-row chunk: field checks (nana.check,
 * checkPhones), and what every event costs on its way through the store: its UUIDv5 id, a JSON
 * round trip, and the ajv schema check made when it is read back.
 */
async function checksOnly(file: string, limit: number) {
  const today = bangkokDate(new Date().toISOString());
  const parser = fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(
    parse({ bom: true, columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), to_line: limit + 1, relax_column_count: true }),
  );
  let chunk: Record<string, string>[] = [];
  let rows = 0;
  let check = 0;
  let phones = 0;
  let json = 0;
  let ids = 0;
  let schema = 0;
  let warm = false;
  const importId = '0190a0e0-0000-7000-8000-000000000000';
  // RowReceived as the reader stores it (v2: the values, the header once in ImportStarted).
  let keys: string[] | null = null;
  const toEvent = (record: Record<string, string>, row: number) => ({
    type: 'RowReceived',
    data: storedRowReceived(importId, 'nana', row, record, (keys ??= recordKeys(Object.keys(record)))),
    metadata: { by: 'bench', at: '2025-01-01T00:00:00.000Z', importId, row, v: 2 },
  });
  const measure = (records: Record<string, string>[]) => {
    if (!warm) {
      for (const record of records) nana.check(record, today); // let the JIT settle first
      warm = true;
    }
    let t = performance.now();
    for (const record of records) nana.check(record, today);
    check += performance.now() - t;
    t = performance.now();
    for (const record of records) checkPhones(record.phone ?? '', { required: true });
    phones += performance.now() - t;
    t = performance.now();
    for (let i = 0; i < records.length; i++) readRowReceived(JSON.parse(JSON.stringify(toEvent(records[i]!, rows + i + 1))).data, keys!);
    json += performance.now() - t;
    t = performance.now();
    for (let i = 0; i < records.length; i++) eventId(importId, rows + i + 1, 'received');
    ids += performance.now() - t;
    const events = records.map((record, i) => toEvent(record, rows + i + 1));
    t = performance.now();
    for (const event of events) checkEvent(event.type, event.data, event.metadata);
    schema += performance.now() - t;
    rows += records.length;
  };
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    chunk.push(record);
    if (chunk.length === 10_000) {
      measure(chunk);
      chunk = [];
    }
  }
  if (chunk.length) measure(chunk);
  const perRow = (ms: number) => round((ms * 1000) / Math.max(rows, 1), 2);
  return {
    rows, checkMicrosPerRow: perRow(check), checkPhonesMicrosPerRow: perRow(phones), jsonRoundTripMicrosPerRow: perRow(json),
    eventIdMicrosPerRow: perRow(ids), schemaCheckMicrosPerRow: perRow(schema),
  };
}

// --- CPU profile (optional) --------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO_ROOT = path.resolve(BENCH_DIR, '..');

/** Where a frame's code lives: a package, a file of this repository, Node itself, or V8's pseudo-frames. */
function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return file.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, file) : file;
}

function summariseProfile(profile: CpuProfile, file: string): CpuProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    total += micros;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + micros);
    const fn = `${frame.functionName || '(anonymous)'} ${area}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + micros);
  });
  const top = (map: Map<string, number>, count: number) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, micros]) => ({ key, seconds: round(micros / 1e6), share: round(micros / Math.max(total, 1), 3) }));
  return {
    file,
    byArea: top(areas, 15).map(({ key, ...rest }) => ({ area: key, ...rest })),
    byFunction: top(functions, 20).map(({ key, ...rest }) => ({ fn: key, ...rest })),
  };
}

/** Every thread's profile of the `careos import` run (node --cpu-prof writes one per thread), summed. */
function summariseProfiles(dir: string): CpuProfileSummary {
  const merged: CpuProfile = { nodes: [], samples: [], timeDeltas: [] };
  let offset = 0;
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as CpuProfile;
    let top = 0;
    for (const node of profile.nodes) {
      merged.nodes.push({ ...node, id: node.id + offset });
      top = Math.max(top, node.id);
    }
    merged.samples.push(...profile.samples.map((id) => id + offset));
    merged.timeDeltas.push(...profile.timeDeltas);
    offset += top + 1;
  }
  return summariseProfile(merged, dir);
}

// --- the run -----------------------------------------------------------------------------------

function gitState(): BenchmarkResult['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return null;
  }
}


/**
 * One benchmark per data directory at a time: a second run would stop the first one's PostgreSQL
 * and delete its data under it. Returns the release function.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(fs.readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new Error(`another benchmark (pid ${owner}) is using ${dataDir}; wait for it to finish (or remove ${lockFile} if that process is not a benchmark)`);
      }
      fs.rmSync(lockFile, { force: true }); // left by a run that died
    }
  }
}

function openConfig(dataDir: string): Config {
  process.env.CAREOS_DATA_DIR = dataDir;
  // Always the embedded PostgreSQL of the fresh data directory, never a configured server.
  return { ...loadConfig(), databaseUrl: undefined };
}

function sharesOf(watched: WatchedImport): BenchmarkResult['postgresActivity'] {
  return [...watched.activity.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([key, count]) => {
      const [statement, wait] = key.split('\u0000') as [string, string];
      return { statement, wait, avgSessions: round(count / Math.max(watched.activitySamples, 1), 2) };
    });
}

/** Keeps ~40 evenly spaced samples of the progress timeline (and the last one). */
function thin(samples: ProgressSample[], keep = 40): ProgressSample[] {
  if (samples.length <= keep) return samples;
  const step = samples.length / keep;
  const out: ProgressSample[] = [];
  for (let i = 0; i < keep; i++) out.push(samples[Math.floor(i * step)]!);
  out.push(samples[samples.length - 1]!);
  return out;
}

function stages(run: ImportRun, rows: number): StageTiming[] {
  const decidedAt = run.watched.allDecidedAt ?? run.finalAt;
  const stage = (name: string, from: number, to: number, rowCount: number | null): StageTiming => ({
    stage: name, endsAt: round(to), seconds: round(to - from), rowsPerSecond: rowCount === null || to <= from ? null : Math.round(rowCount / (to - from)),
  });
  return [
    stage('store upload: header check, fsynced copy, ImportStarted', 0, run.storedAt, null),
    stage('read: CSV → RowReceived, until the last row and ImportFileRead are appended', run.storedAt, run.readAt, rows),
    // The read models are projected in the processor's own commits: the last decision is the import log's final status.
    stage('processor after the read: until every row is decided and the import log shows the result', run.readAt, Math.max(run.finalAt, run.readAt), null),
    stage('processor, first to last decision (overlaps the read)', run.watched.firstDecidedAt ?? run.storedAt, Math.max(decidedAt, run.readAt), rows),
  ];
}

export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkResult> {
  const release = lockDataDir(path.resolve(options.dataDir));
  try {
    return await benchmark(options);
  } finally {
    release();
  }
}

async function benchmark(options: BenchmarkOptions): Promise<BenchmarkResult> {
  const { rows, keep = false, log } = options;
  const dataDir = path.resolve(options.dataDir);
  const filesDir = path.resolve(options.filesDir ?? path.dirname(dataDir));
  if (!keep) {
    await stopEmbedded(dataDir); // a server left running by an earlier --keep run
    fs.rmSync(dataDir, { recursive: true, force: true });
  } else if (fs.existsSync(dataDir)) {
    log?.(`--keep: importing into the existing data directory ${dataDir}; earlier imports count in the results`);
  }

  log?.(`generating ${rows.toLocaleString('en-US')} Nana rows in ${filesDir}`);
  let started = performance.now();
  // In a child process, so the generator's garbage is not counted in this process's peak RSS.
  const generated = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'generate.ts'), '--rows', String(rows), '--dir', filesDir], {
    encoding: 'utf8', maxBuffer: 1 << 20,
  });
  if (generated.status !== 0) throw new Error(`the generator failed: ${generated.stderr}`);
  const files = JSON.parse(generated.stdout) as GeneratedFiles;
  const generateSeconds = (performance.now() - started) / 1000;
  log?.('a file of the same size with a wrong header, through the CLI');
  const refusal = refusalAnchor(files.nanaFile, filesDir);

  const config = openConfig(dataDir);
  const app = await openApp(config);
  const monitor = new pg.Client({ connectionString: await resolveDatabaseUrl(config), application_name: 'careos-bench' });
  await monitor.connect();
  try {
    const { rows: versionRows } = await app.pool.query<{ server_version: string }>('show server_version');
    const { rows: bufferRows } = await app.pool.query<{ shared_buffers: string }>('show shared_buffers');

    log?.(`importing the CareOS baseline (${files.baselineRows.toLocaleString('en-US')} rows) with careos import`);
    const baseline = await runImport(monitor, dataDir, { path: files.baselineFile, rows: files.baselineRows, source: 'careos' });

    log?.(`importing the Nana file (${rows.toLocaleString('en-US')} rows, ${(files.nanaBytes / MB).toFixed(1)} MB) with careos import`);
    const profileDir = options.profile ? path.join(filesDir, `cpuprofile-${rows}`) : undefined;
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
    const pgBefore = postgresCpuSeconds(dataDir);
    const run = await runImport(monitor, dataDir, { path: files.nanaFile, rows, source: 'nana' }, log, profileDir);
    const pgAfter = postgresCpuSeconds(dataDir);
    const cpuProfile = profileDir ? summariseProfiles(profileDir) : undefined;

    const { rows: reasonRows } = await app.pool.query<{ code: string; n: number }>(
      `select r->>'code' as code, count(*)::int as n from error_log e, jsonb_array_elements(e.reasons) r
        where e.import_id = $1 group by 1 order by 2 desc, 1`,
      [run.importId],
    );
    const dbSize = async () => (await app.pool.query<{ bytes: number }>('select pg_database_size(current_database()) as bytes')).rows[0]!.bytes;
    const sizeBytes = await dbSize();
    const { rows: tableRows } = await app.pool.query<{ table: string; bytes: number }>(
      `select c.relname as table, pg_total_relation_size(c.oid) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and n.nspname = 'public' order by 2 desc limit 8`,
    );

    log?.('anchors: raw COPY of the same file, naive row-by-row importer');
    const client = await app.pool.connect();
    let copy: CopyAnchor;
    let naive: Awaited<ReturnType<typeof naiveAnchor>>;
    try {
      await client.query('drop schema if exists bench_anchor cascade; create schema bench_anchor');
      copy = await copyAnchor(client, files.nanaFile);
      naive = await naiveAnchor(client, files.nanaFile, Math.min(rows, NAIVE_ROWS));
    } finally {
      client.release();
    }
    const sizeAfterAnchors = await dbSize();

    log?.(`in-process costs on the first ${Math.min(rows, IN_PROCESS_ROWS).toLocaleString('en-US')} rows`);
    const parseOnly = await csvParseOnly(files.nanaFile, Math.min(rows, IN_PROCESS_ROWS));
    const checks = await checksOnly(files.nanaFile, Math.min(rows, IN_PROCESS_ROWS));

    let remap: ScenarioResult | undefined;
    if (options.remap ?? true) remap = await remapScenario(app, monitor, { rows, dataDir, filesDir, log });
    const careshopRows = options.careshopRows ?? Math.min(rows, 100_000);
    const careshop = careshopRows > 0 ? await careshopScenario(app, monitor, { rows: careshopRows, dataDir, filesDir, log }) : undefined;

    // Only on files long enough to kill mid-way with certainty (a few batches in, far from the end).
    let resume: ResumeTiming | undefined;
    if (rows >= 20_000) {
      const killAt = Math.min(20_000, Math.floor(rows / 5));
      log?.(`resume after a crash: careos import killed at ${killAt.toLocaleString('en-US')} decided rows, then careos resume (own data directory)`);
      resume = await resumeAnchor(`${dataDir}-resume`, files.nanaFile, killAt);
    }

    const view = run.view;
    const totalRows = view.totalRows ?? 0;
    const e2eRowsPerSecond = totalRows / run.seconds;
    const rejectionsByCode = Object.fromEntries(reasonRows.map((r) => [r.code, r.n]));
    const result: BenchmarkResult = {
      date: new Date().toISOString(),
      rows,
      git: gitState(),
      machine: {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model ?? 'unknown',
        totalMemoryMB: Math.round(os.totalmem() / MB),
        node: process.version,
        postgres: versionRows[0]!.server_version,
        platform: `${os.platform()} ${os.release()}`,
      },
      config: { eventStore: app.store.kind, readBatchRows: config.readBatchRows, processBatchRows: config.processBatchRows, sharedBuffers: bufferRows[0]!.shared_buffers },
      files: { nanaBytes: files.nanaBytes, bytesPerRow: Math.round(files.nanaBytes / rows), baselineRows: files.baselineRows, generateSeconds: round(generateSeconds) },
      baseline: {
        seconds: round(baseline.seconds), rowsPerSecond: Math.round((baseline.view.totalRows ?? 0) / baseline.seconds), status: baseline.view.status,
        totalRows: baseline.view.totalRows ?? 0, importedRows: baseline.view.importedRows, rejectedRows: baseline.view.rejectedRows,
      },
      endToEnd: { seconds: round(run.seconds), rowsPerSecond: Math.round(e2eRowsPerSecond) },
      import: {
        importId: run.importId, status: view.status, totalRows, importedRows: view.importedRows, rejectedRows: view.rejectedRows, rejectionsByCode,
        expected: files.expected,
        matchesExpected: view.importedRows === files.expected.imported && view.rejectedRows === files.expected.rejected,
      },
      stages: stages(run, totalRows),
      progress: thin(run.watched.timeline),
      cpu: {
        wallSeconds: round(run.seconds),
        nodeSeconds: round(run.cpuSeconds),
        postgresSeconds: pgBefore === null || pgAfter === null ? null : round(pgAfter - pgBefore),
      },
      memory: { peakRssMB: Math.round(run.peakRssBytes / MB), baselinePeakRssMB: Math.round(baseline.peakRssBytes / MB) },
      database: {
        sizeMB: round(sizeBytes / MB, 1),
        sizeAfterAnchorsMB: round(sizeAfterAnchors / MB, 1),
        largestTables: tableRows.map((r) => ({ table: r.table, MB: round(r.bytes / MB, 1) })),
      },
      anchors: {
        copy, naive,
        ratioToCopy: round(copy.rowsPerSecond / e2eRowsPerSecond, 1),
        ratioToNaive: round(e2eRowsPerSecond / naive.rowsPerSecond, 1),
      },
      inProcess: {
        rows: checks.rows,
        csvParseMicrosPerRow: round((parseOnly.seconds * 1e6) / Math.max(parseOnly.rows, 1), 2),
        checkMicrosPerRow: checks.checkMicrosPerRow,
        checkPhonesMicrosPerRow: checks.checkPhonesMicrosPerRow,
        jsonRoundTripMicrosPerRow: checks.jsonRoundTripMicrosPerRow,
        eventIdMicrosPerRow: checks.eventIdMicrosPerRow,
        schemaCheckMicrosPerRow: checks.schemaCheckMicrosPerRow,
      },
      remap,
      careshop,
      postgresActivity: sharesOf(run.watched),
      refusal,
      resume,
      cpuProfile,
    };
    if (!result.import.matchesExpected) {
      log?.(`note: the generator expected ${files.expected.imported} imported / ${files.expected.rejected} rejected`);
    }
    if (options.write) {
      const resultsDir = options.resultsDir ?? path.join(BENCH_DIR, 'results');
      fs.mkdirSync(resultsDir, { recursive: true });
      // latest.* is the newest run; rows-N.* keeps the newest run of each size side by side.
      for (const name of ['latest', `rows-${rows}`]) {
        fs.writeFileSync(path.join(resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
        fs.writeFileSync(path.join(resultsDir, `${name}.md`), renderMarkdown(result));
      }
    }
    return result;
  } finally {
    await monitor.end().catch(() => undefined);
    await app.close();
    if (!keep) await stopEmbedded(dataDir);
  }
}

/**
 * The second scenario: a Nana file with remapped ids and unknown careos_cus_ids, generated,
 * imported with careos import after the standard one (same database), and COPYed raw as its own floor.
 */
async function remapScenario(
  app: Awaited<ReturnType<typeof openApp>>, monitor: pg.Client,
  options: { rows: number; dataDir: string; filesDir: string; log?: (line: string) => void },
): Promise<ScenarioResult> {
  const { rows, dataDir, filesDir, log } = options;
  log?.(`scenario "remaps and mapping errors": generating ${rows.toLocaleString('en-US')} rows`);
  const generated = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'generate.ts'), '--rows', String(rows), '--dir', filesDir, '--scenario', 'remap'], {
    encoding: 'utf8', maxBuffer: 1 << 20,
  });
  if (generated.status !== 0) throw new Error(`the generator failed: ${generated.stderr}`);
  const file = JSON.parse(generated.stdout) as GeneratedScenario;
  log?.(`scenario "remaps and mapping errors": importing ${(file.bytes / MB).toFixed(1)} MB with careos import`);
  const pgBefore = postgresCpuSeconds(dataDir);
  const run = await runImport(monitor, dataDir, { path: file.file, rows, source: 'nana' }, log);
  const pgAfter = postgresCpuSeconds(dataDir);
  const { rows: reasonRows } = await app.pool.query<{ code: string; n: number }>(
    `select r->>'code' as code, count(*)::int as n from error_log e, jsonb_array_elements(e.reasons) r
      where e.import_id = $1 group by 1 order by 2 desc, 1`,
    [run.importId],
  );
  const { rows: unlinked } = await app.pool.query<{ n: number }>('select count(*)::int as n from relation where unlinked_import_id = $1', [run.importId]);
  const copy = await copyAnchorAside(app.pool, file.file, 'nana_copy_remap');
  const view = run.view;
  const totalRows = view.totalRows ?? 0;
  const rowsPerSecond = totalRows / run.seconds;
  return {
    scenario: 'remap', rows, bytes: file.bytes,
    endToEnd: { seconds: round(run.seconds), rowsPerSecond: Math.round(rowsPerSecond) },
    import: {
      importId: run.importId, status: view.status, totalRows, importedRows: view.importedRows, rejectedRows: view.rejectedRows,
      rejectionsByCode: Object.fromEntries(reasonRows.map((r) => [r.code, r.n])),
      expected: file.expected,
      matchesExpected: view.importedRows === file.expected.imported && view.rejectedRows === file.expected.rejected,
      reappearingIds: file.reappearingIds,
      unlinkedRelations: unlinked[0]!.n,
    },
    copy,
    ratioToCopy: round(copy.rowsPerSecond / rowsPerSecond, 1),
    memory: { peakRssMB: Math.round(run.peakRssBytes / MB) },
    cpu: { nodeSeconds: round(run.cpuSeconds), postgresSeconds: pgBefore === null || pgAfter === null ? null : round(pgAfter - pgBefore) },
  };
}

/** Runs a careos command in the bench's data directory; its last stdout line as JSON. */
function cliJson<T>(dataDir: string, ...args: string[]): T {
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, ...env } = process.env;
  const run = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, CAREOS_DATA_DIR: dataDir }, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`careos ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}

const CARESHOP_COLUMNS = ['customer_id', 'firstname', 'lastname', 'mobile_phone', 'email', 'updated_at'];

/**
 * The Care Shop scenario: the demo table seeded with `rows` customers (some sharing a profile's
 * phone and names, some its phone only, some invalid numbers), Nana onboarding marked complete,
 * then one `careos sync careshop` timed from spawn to exit; the floor is COPY of the same records.
 */
async function careshopScenario(
  app: Awaited<ReturnType<typeof openApp>>, monitor: pg.Client,
  options: { rows: number; dataDir: string; filesDir: string; log?: (line: string) => void },
): Promise<CareshopResult> {
  const { rows, dataDir, filesDir, log } = options;
  const location = app.readerOptions.careshop;
  if (!location) throw new Error('the bench runs on the embedded default, whose demo Care Shop database it syncs');
  log?.(`scenario "Care Shop sync": seeding ${rows.toLocaleString('en-US')} customers in the demo table`);
  const started = performance.now();
  const seeded = cliJson<{ sameProfile: number; samePhone: number; invalidPhone: number }>(dataDir, 'careshop', 'seed', '--rows', String(rows), '--json');
  const seedSeconds = (performance.now() - started) / 1000;
  const gate = cliJson<{ complete: boolean }>(dataDir, 'onboarding', '--json');
  if (!gate.complete) cliJson(dataDir, 'onboarding', 'complete', '--by', 'bench', '--reason', 'benchmark', '--json');
  log?.('scenario "Care Shop sync": careos sync careshop');
  const pgBefore = postgresCpuSeconds(dataDir);
  const run = await runImport(monitor, dataDir, { path: '', rows, source: 'careshop' }, log, undefined, ['sync', 'careshop']);
  const pgAfter = postgresCpuSeconds(dataDir);
  // The floor: the same records exported as CSV, then COPYed into an unindexed table of text columns.
  const exported = path.join(filesDir, `careshop-${rows}.csv`);
  const shop = new pg.Client({ connectionString: location.url });
  await shop.connect();
  try {
    await pipeline(
      shop.query(copyTo(`copy (select ${CARESHOP_COLUMNS.join(', ')} from customer order by updated_at, customer_id limit ${rows}) to stdout (format csv, header)`)),
      fs.createWriteStream(exported),
    );
  } finally {
    await shop.end();
  }
  const copy: CareshopResult['copy'] = await copyAnchorAside(app.pool, exported, 'careshop_copy', CARESHOP_COLUMNS);
  const view = run.view;
  const totalRows = view.totalRows ?? 0;
  const rowsPerSecond = totalRows / run.seconds;
  return {
    rows, seedSeconds: round(seedSeconds),
    endToEnd: { seconds: round(run.seconds), rowsPerSecond: Math.round(rowsPerSecond) },
    import: {
      importId: run.importId, status: view.status, totalRows, importedRows: view.importedRows, rejectedRows: view.rejectedRows, skippedRows: view.skippedRows,
    },
    seeded: { sameProfile: seeded.sameProfile, samePhone: seeded.samePhone, invalidPhone: seeded.invalidPhone },
    copy,
    ratioToCopy: round(copy.rowsPerSecond / rowsPerSecond, 1),
    memory: { peakRssMB: Math.round(run.peakRssBytes / MB) },
    cpu: { nodeSeconds: round(run.cpuSeconds), postgresSeconds: pgBefore === null || pgAfter === null ? null : round(pgAfter - pgBefore) },
    postgresActivity: sharesOf(run.watched),
  };
}

// --- the report --------------------------------------------------------------------------------

function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** ' (median of 3 runs: a, b, c s)' after a COPY anchor; nothing for results written before anchors kept their runs. */
function copyRuns(copy: CopyAnchor): string {
  return copy.runs?.length ? ` (median of ${copy.runs.length} runs: ${copy.runs.map(s).join(', ')} s)` : '';
}

function s(seconds: number): string {
  return seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1);
}

export function renderMarkdown(r: BenchmarkResult): string {
  const lines: string[] = [];
  const row = (...cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);
  lines.push(`## Import benchmark: ${n(r.rows)} Nana rows`, '');
  lines.push(
    `${r.date.slice(0, 19).replace('T', ' ')} UTC · ${r.git ? `commit ${r.git.commit}${r.git.dirty ? ' + uncommitted changes' : ''} · ` : ''}${r.machine.cores} cores (${r.machine.cpu}) · ${n(r.machine.totalMemoryMB)} MB · Node ${r.machine.node} · PostgreSQL ${r.machine.postgres} (embedded) · event store ${r.config.eventStore} · read batch ${n(r.config.readBatchRows)}, process batch ${n(r.config.processBatchRows)}${r.config.sharedBuffers ? ` · shared_buffers ${r.config.sharedBuffers}` : ''}`,
    '',
  );
  row('Measure', 'Value');
  row('---', '---');
  row('Nana file', `${n(r.rows)} rows, ${(r.files.nanaBytes / MB).toFixed(1)} MB (${r.files.bytesPerRow} B/row)`);
  row('**End to end** (`careos import`, start to exit)', `**${s(r.endToEnd.seconds)} s, ${n(r.endToEnd.rowsPerSecond)} rows/s**`);
  row('Import summary', `${r.import.status}: ${n(r.import.totalRows)} total, ${n(r.import.importedRows)} imported, ${n(r.import.rejectedRows)} rejected${r.import.matchesExpected ? ' (as generated)' : ` (generator expected ${n(r.import.expected.imported)} / ${n(r.import.expected.rejected)})`}`);
  row('Rejections by reason', Object.entries(r.import.rejectionsByCode).map(([code, count]) => `${code} ${n(count)}`).join(', ') || '(none)');
  row('Raw COPY of the same file (floor)', `${s(r.anchors.copy.seconds)} s, ${n(r.anchors.copy.rowsPerSecond)} rows/s → COPY is **${r.anchors.ratioToCopy}×** faster${copyRuns(r.anchors.copy)}`);
  row(`Naive importer (${n(r.anchors.naive.rows)}-row slice, INSERT per row)`, `${n(r.anchors.naive.rowsPerSecond)} rows/s → end to end is **${r.anchors.ratioToNaive}×** naive`);
  row('Peak RSS of the `careos import` process, every thread (VmHWM)', `${n(r.memory.peakRssMB)} MB (baseline import: ${n(r.memory.baselinePeakRssMB)} MB)`);
  row('CPU during the import (wall ' + s(r.cpu.wallSeconds) + ' s)', `careos import, every thread: ${s(r.cpu.nodeSeconds)} s; PostgreSQL: ${r.cpu.postgresSeconds === null ? 'n/a' : `${s(r.cpu.postgresSeconds)} s`}`);
  row('PostgreSQL database size after the import / after the anchors', `${n(r.database.sizeMB)} MB / ${n(r.database.sizeAfterAnchorsMB)} MB`);
  row('Largest tables', r.database.largestTables.map((t) => `${t.table} ${t.MB} MB`).join(', '));
  row(`Refused file (wrong header, ${s(r.refusal.fileMB)} MB) through the CLI`, `${n(r.refusal.milliseconds)} ms from start to exit ${r.refusal.exitCode}: ${r.refusal.message.replace(/\|/g, '\\|')}`);
  row('CareOS baseline import', `${n(r.baseline.totalRows)} rows in ${s(r.baseline.seconds)} s (${n(r.baseline.rowsPerSecond)} rows/s), ${r.baseline.status}`);
  if (r.resume) {
    row('Resume after a crash (import SIGKILLed, then `careos resume`)', `killed at ${n(r.resume.killedAtRows)} decided rows; leader ${n(r.resume.leaderAfterMs)} ms after spawn; **first commit ${n(r.resume.firstCommitAfterLeaderMs)} ms after taking the lead**`);
  }
  if (r.remap) {
    const m = r.remap;
    lines.push('', `### Both scenarios, ${n(r.rows)} rows each, one PostgreSQL (standard first, then remaps and mapping errors)`, '');
    row('Scenario', 'End to end', 'Raw COPY of its own file', 'COPY is … faster', 'Peak RSS', 'CPU importer / PostgreSQL');
    row('---', '---:', '---:', '---:', '---:', '---:');
    row('standard', `${s(r.endToEnd.seconds)} s, ${n(r.endToEnd.rowsPerSecond)} rows/s`, `${n(r.anchors.copy.rowsPerSecond)} rows/s`, `**${r.anchors.ratioToCopy}×**`, `${n(r.memory.peakRssMB)} MB`, `${s(r.cpu.nodeSeconds)} s / ${r.cpu.postgresSeconds === null ? 'n/a' : `${s(r.cpu.postgresSeconds)} s`}`);
    row('remaps and mapping errors', `${s(m.endToEnd.seconds)} s, ${n(m.endToEnd.rowsPerSecond)} rows/s`, `${n(m.copy.rowsPerSecond)} rows/s`, `**${m.ratioToCopy}×**`, `${n(m.memory.peakRssMB)} MB`, `${s(m.cpu.nodeSeconds)} s / ${m.cpu.postgresSeconds === null ? 'n/a' : `${s(m.cpu.postgresSeconds)} s`}`);
    lines.push('');
    row('Remap scenario', 'Value');
    row('---', '---');
    row('File', `${n(m.rows)} rows, ${(m.bytes / MB).toFixed(1)} MB; ${n(m.import.reappearingIds)} nana ids repeat an earlier row's`);
    row('Import summary', `${m.import.status}: ${n(m.import.totalRows)} total, ${n(m.import.importedRows)} imported, ${n(m.import.rejectedRows)} rejected${m.import.matchesExpected ? ' (as generated)' : ` (generator expected ${n(m.import.expected.imported)} / ${n(m.import.expected.rejected)})`}`);
    row('Rejections by reason', Object.entries(m.import.rejectionsByCode).map(([code, count]) => `${code} ${n(count)}`).join(', ') || '(none)');
    row('Relations unlinked by this import (remapped ids)', n(m.import.unlinkedRelations));
  }
  if (r.careshop) {
    const c = r.careshop;
    lines.push('', `### Care Shop sync, ${n(c.rows)} records (the demo table, seeded; after the Nana imports, same PostgreSQL)`, '');
    row('Measure', 'Value');
    row('---', '---');
    row('**End to end** (`careos sync careshop`, start to exit)', `**${s(c.endToEnd.seconds)} s, ${n(c.endToEnd.rowsPerSecond)} rows/s**`);
    row('Raw COPY of the same records (exported as CSV)', `${s(c.copy.seconds)} s, ${n(c.copy.rowsPerSecond)} rows/s → COPY is **${c.ratioToCopy}×** faster${copyRuns(c.copy)}`);
    row('Sync summary', `${c.import.status}: ${n(c.import.totalRows)} total, ${n(c.import.importedRows)} imported, ${n(c.import.rejectedRows)} rejected, ${n(c.import.skippedRows)} skipped`);
    row('Seeded', `${n(c.seeded.sameProfile)} with a profile's phone and names, ${n(c.seeded.samePhone)} with a profile's phone only, ${n(c.seeded.invalidPhone)} invalid numbers (seed took ${s(c.seedSeconds)} s)`);
    row('Peak RSS / CPU importer, PostgreSQL', `${n(c.memory.peakRssMB)} MB / ${s(c.cpu.nodeSeconds)} s, ${c.cpu.postgresSeconds === null ? '–' : `${s(c.cpu.postgresSeconds)} s`}`);
    if (c.postgresActivity.length) {
      lines.push('');
      row('Statement during the sync', 'Wait', 'Avg sessions');
      row('---', '---', '---:');
      for (const a of c.postgresActivity) row(`\`${a.statement.replace(/\|/g, '\\|')}\``, a.wait, a.avgSessions.toFixed(2));
    }
  }
  lines.push('', '### Where the time went (Nana import, seconds from the start of careos import)', '');
  row('Stage', 'Ends at (s)', 'Duration (s)', 'Rows/s');
  row('---', '---:', '---:', '---:');
  for (const st of r.stages) row(st.stage, s(st.endsAt), s(st.seconds), st.rowsPerSecond === null ? '' : n(st.rowsPerSecond));
  lines.push('', `### In process, first ${n(r.inProcess.rows)} rows (one core)`, '');
  row('Work', 'µs/row', `Seconds for ${n(r.rows)} rows`);
  row('---', '---:', '---:');
  const perRow = (label: string, us: number) => row(label, us.toFixed(2), s((us * r.rows) / 1e6));
  perRow('csv-parse only (reader settings, file read included)', r.inProcess.csvParseMicrosPerRow);
  perRow('validation only (nana.check)', r.inProcess.checkMicrosPerRow);
  perRow('… of which checkPhones (Thai 0…/+66… against the plan, the rest libphonenumber, max metadata)', r.inProcess.checkPhonesMicrosPerRow);
  perRow('JSON stringify + parse of one RowReceived event (v2: values, record rebuilt)', r.inProcess.jsonRoundTripMicrosPerRow);
  perRow('UUIDv5 event id (eventId, SHA-1)', r.inProcess.eventIdMicrosPerRow);
  perRow('ajv schema check of one RowReceived event (checkEvent, as on every read)', r.inProcess.schemaCheckMicrosPerRow);
  if (r.postgresActivity.length) {
    lines.push('', '### What the importer\'s PostgreSQL sessions were doing (pg_stat_activity every 100 ms; 1.00 = one session busy all the time)', '');
    row('Statement', 'Wait', 'Avg sessions');
    row('---', '---', '---:');
    for (const a of r.postgresActivity) row(`\`${a.statement.replace(/\|/g, '\\|')}\``, a.wait, a.avgSessions.toFixed(2));
  }
  if (r.cpuProfile) {
    lines.push('', `### Where careos import spent its CPU, every thread (node --cpu-prof profiles in ${path.relative(process.cwd(), r.cpuProfile.file)})`, '');
    row('Where (self time)', 'Seconds', 'Share');
    row('---', '---:', '---:');
    for (const a of r.cpuProfile.byArea) row(a.area, s(a.seconds), `${Math.round(a.share * 100)}%`);
    lines.push('');
    row('Function (self time)', 'Seconds', 'Share');
    row('---', '---:', '---:');
    for (const f of r.cpuProfile.byFunction) row(`\`${f.fn}\``, s(f.seconds), `${(f.share * 100).toFixed(1)}%`);
  }
  if (r.progress.length) {
    lines.push('', '### Progress (rows)', '');
    row('At (s)', 'Received', 'Decided', 'Projected', 'RSS (MB)');
    row('---:', '---:', '---:', '---:', '---:');
    const step = Math.max(1, Math.ceil(r.progress.length / 12));
    r.progress.forEach((p, i) => {
      if (i % step === 0 || i === r.progress.length - 1) row(s(p.at), n(p.received), n(p.decided), n(p.projected), n(p.rssMB));
    });
  }
  return `${lines.join('\n')}\n`;
}

function parseRows(raw: string): number {
  const rows = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows must be a positive whole number, got "${raw}"`);
  return rows;
}

// The CLI part; importing this module (the test does) runs nothing.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false }, profile: { type: 'boolean', default: false },
      'standard-only': { type: 'boolean', default: false }, 'careshop-rows': { type: 'string' },
    },
  });
  const result = await runBenchmark({
    rows: parseRows(values.rows!),
    dataDir: path.join(BENCH_DIR, 'tmp', 'data'),
    keep: values.keep,
    profile: values.profile,
    remap: !values['standard-only'],
    careshopRows: values['standard-only'] ? 0 : values['careshop-rows'] === undefined ? undefined : parseRows(values['careshop-rows']),
    write: true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`\n${renderMarkdown(result)}`);
  process.stderr.write(`results written to ${path.relative(process.cwd(), path.join(BENCH_DIR, 'results'))}/latest.{json,md}\n`);
}
