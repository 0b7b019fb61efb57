// Supervision of the embedded PostgreSQL by the server (`npm start` on the embedded default; an
// external DATABASE_URL is not ours to restart). Owns noticing that PostgreSQL is gone, starting it
// again on the same port (the pools' URLs stay valid) with exponential backoff, and the status that
// readiness, the console and metrics show (DatabaseStatus).
//
// Gone means: postmaster.pid names no running process (or there is none). A postmaster that runs
// but refuses connections is recovering (after one of its processes crashed, PostgreSQL ends the
// others and recovers by itself) or starting, and is left to it. A stop on purpose (`careos db
// stop`, a server's shutdown) leaves a marker in the data directory (services/db/embedded.ts):
// PostgreSQL then stays stopped until a careos process starts it (`careos db start`, any command
// that needs it), and is supervised again from then on. Out of space is watched here too:
// postgres.log's "No space left on device" and the like are recorded (services/disk.ts), and a
// restart waiting out its backoff is tried at once when space is back.
import pg from 'pg';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import {
  exitOf, maintenanceUrl, readPostmasterPid, restartEmbedded, running, stoppedOnPurpose, type EmbeddedSettings, type StoppedOnPurpose,
} from './embedded.ts';
import { diskFull, formatBytes, isOutOfSpace, noteOutOfSpace, outOfSpaceError, setPostgresDataDir, type DiskFull } from '../disk.ts';
import { AppError, Unavailable } from '../errors.ts';
import { isDatabaseUnavailable } from './pool.ts';
import { notify } from '../notify.ts';

export type { DiskFull } from '../disk.ts';

/**
 * up: the postmaster runs and accepts connections. down: it does not, and is not being restarted
 * (stopped on purpose; or its postmaster runs but refuses connections: recovering, starting).
 * restarting: it is gone and being started again (waiting out the backoff, or starting).
 * external: DATABASE_URL, not supervised here.
 */
export type DatabaseState = 'up' | 'down' | 'restarting' | 'external';

export interface DatabaseStatus {
  state: DatabaseState;
  /** One line for people: why it is in this state ("the embedded PostgreSQL runs (pid 123, port 5433)", "… was stopped on purpose by careos db stop at …"). */
  reason: string;
  /** Restarts by this supervisor since the server started. */
  restarts: number;
  /** When PostgreSQL was last found gone, and how it ended ("postmaster pid 123 killed by SIGKILL", its log's last words). */
  lastExit?: { at: string; reason: string };
  /** The last restart attempt's failure, until a restart succeeds. */
  lastError?: string;
  /** When it entered this state (ISO 8601). */
  since: string;
  /** Set while it is stopped on purpose: when and by whom. */
  stoppedOnPurpose?: StoppedOnPurpose;
  /** A filesystem the product writes to is full (uploads, PostgreSQL's data); null when none is. */
  diskFull: DiskFull | null;
}

/** What a server holds: the status of its database, and stop() before it stops PostgreSQL itself. */
export interface DatabaseSupervision {
  status(): DatabaseStatus;
  /** Stops supervising (an attempt in flight ends first): from then on PostgreSQL is never started from here. */
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  dataDir: string;
  settings: EmbeddedSettings;
  /** How often postmaster.pid, the postmaster and postgres.log are looked at (default 500 ms). */
  pollMs?: number;
  /** Delay before restart attempt n (from 0): initialMs · 2ⁿ, at most maxMs (default 0.5 s → 30 s). */
  backoff?: { initialMs: number; maxMs: number };
}

const POLL_MS = 500;
const BACKOFF = { initialMs: 500, maxMs: 30_000 };
/** Up this long, a crash is a new story: the backoff starts from its beginning again. */
const STABLE_MS = 30_000;
/** What PostgreSQL says last before its postmaster goes (or its startup fails): the reason shown for an exit. */
const LAST_WORDS = /PANIC:|aborting startup|startup process .*(exited|terminated)|could not (write|extend|create)|No space left|database system is shut down/;
/** The "2026-01-01 10:00:00.123 UTC [123] " that starts each line of postgres.log (log_line_prefix '%m [%p] '). */
const LOG_PREFIX = /^(\d{4}-\d\d-\d\d [\d:.]+) UTC \[\d+\] |^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] /;
/** At most this much of postgres.log is read per look (what was written since the last one). */
const LOG_READ_BYTES = 1024 * 1024;

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

export class DatabaseSupervisor implements DatabaseSupervision {
  private readonly pgDir: string;
  private readonly pollMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private state: DatabaseState;
  private reason: string;
  private since = new Date().toISOString();
  private restarts = 0;
  private lastExit: { at: string; reason: string } | undefined;
  private lastError: string | undefined;
  private stopped: StoppedOnPurpose | undefined;
  /** Restart attempts since PostgreSQL last stayed up STABLE_MS: the backoff's exponent. */
  private attempts = 0;
  private upSince: number | null = null;
  private lastPid: number | null = null;
  private probe: { client: pg.Client; port: number } | null = null;
  private supervising = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private logOffset = 0;
  private lastWords: string | null = null;

  constructor(private readonly options: SupervisorOptions) {
    this.pgDir = path.join(options.dataDir, 'pg');
    this.pollMs = options.pollMs ?? POLL_MS;
    this.backoff = options.backoff ?? BACKOFF;
    setPostgresDataDir(this.pgDir);
    try {
      this.logOffset = fs.statSync(path.join(options.dataDir, 'postgres.log')).size; // earlier runs' lines are not news
    } catch {
      this.logOffset = 0;
    }
    const found = readPostmasterPid(this.pgDir);
    this.lastPid = found && running(found.pid) ? found.pid : null;
    this.state = this.lastPid ? 'up' : 'down';
    this.reason = found && this.lastPid ? `the embedded PostgreSQL runs (pid ${found.pid}, port ${found.port})` : 'the embedded PostgreSQL does not run';
  }

  /** Starts watching; call it once the embedded server was started (openApp does that). */
  start(): this {
    if (this.loop) return this;
    this.supervising = true;
    this.loop = (async () => {
      while (this.supervising) {
        try {
          await this.check();
        } catch (error) {
          notify('warn', `database: supervising the embedded PostgreSQL: ${firstLine(error)}`);
        }
        await this.pause(this.pollMs);
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.supervising = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.closeProbe();
    this.set(this.state, `${this.reason} (no longer supervised: the server is stopping)`);
  }

  status(): DatabaseStatus {
    return {
      state: this.state,
      reason: this.reason,
      restarts: this.restarts,
      ...(this.lastExit ? { lastExit: { ...this.lastExit } } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      since: this.since,
      ...(this.stopped ? { stoppedOnPurpose: { ...this.stopped } } : {}),
      diskFull: diskFull(),
    };
  }

  /** Returns whether the state changed. */
  private set(state: DatabaseState, reason: string): boolean {
    const changed = state !== this.state;
    if (changed) this.since = new Date().toISOString();
    this.state = state;
    this.reason = reason;
    return changed;
  }

  private async check(): Promise<void> {
    this.readLog();
    diskFull(); // measured again: a filesystem with room again is said to be so (services/disk.ts)
    const found = readPostmasterPid(this.pgDir);
    if (found && running(found.pid)) {
      this.lastPid = found.pid;
      this.stopped = undefined;
      const refused = await this.probeConnection(found.port);
      if (refused === null) {
        const wasDown = this.state !== 'up';
        this.set('up', `the embedded PostgreSQL runs (pid ${found.pid}, port ${found.port})`);
        if (wasDown) notify('info', `database: the embedded PostgreSQL accepts connections again (pid ${found.pid}, port ${found.port})`);
        this.lastWords = null;
        this.upSince ??= Date.now();
        if (Date.now() - this.upSince >= STABLE_MS) this.attempts = 0;
      } else {
        this.upSince = null;
        const reason = `the embedded PostgreSQL's postmaster (pid ${found.pid}) runs but refuses connections (${refused}): it is recovering or starting, and left to it`;
        if (this.set('down', reason)) notify('warn', `database: ${reason}`);
      }
      return;
    }
    this.upSince = null;
    await this.closeProbe();
    const stopped = stoppedOnPurpose(this.options.dataDir);
    if (stopped) {
      this.stopped = stopped;
      const reason = `the embedded PostgreSQL was stopped on purpose by ${stopped.by} at ${stopped.at}: not restarted (careos db start, or any careos command, starts it again)`;
      const news = this.state !== 'down' || this.reason !== reason;
      this.set('down', reason);
      if (news) notify('info', `database: ${reason}`);
      return;
    }
    await this.restart();
  }

  private async restart(): Promise<void> {
    if (this.state !== 'restarting') {
      const how = this.exitReason();
      this.lastExit = { at: new Date().toISOString(), reason: how };
      this.set('restarting', `the embedded PostgreSQL is gone (${how}); restarting it`);
      notify('warn', `database: the embedded PostgreSQL is gone (${how}); restarting it`);
    }
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempts);
    const fullBefore = diskFull() !== null;
    // Space freed while waiting (it filled before): no reason to wait for the rest.
    await this.pause(delay, () => (fullBefore && diskFull() === null) || stoppedOnPurpose(this.options.dataDir) !== null);
    if (!this.supervising) return;
    this.attempts++;
    try {
      const result = await restartEmbedded(this.options.dataDir, this.options.settings);
      if (result.outcome === 'stopped-on-purpose') return; // the next look says so
      this.lastError = undefined;
      if (result.outcome === 'started') {
        this.restarts++;
        this.set('up', `the embedded PostgreSQL runs (pid ${result.server.pid}, port ${result.server.port}), restarted`);
        notify('warn', `database: restarted the embedded PostgreSQL (restart ${this.restarts}; pid ${result.server.pid}, port ${result.server.port}) after: ${this.lastExit?.reason}`);
      } else {
        this.set('up', `the embedded PostgreSQL runs (pid ${result.server.pid}, port ${result.server.port}), started by another careos process`);
        notify('warn', `database: the embedded PostgreSQL runs again, started by another careos process (pid ${result.server.pid})`);
      }
      this.lastPid = result.server.pid;
      this.upSince = Date.now();
    } catch (error) {
      this.readLog();
      this.lastError = firstLine(error);
      const next = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempts);
      const full = diskFull();
      this.set('restarting', `the embedded PostgreSQL is gone; restart attempt ${this.attempts} failed (${this.lastError}); next attempt in ${next / 1000} s${full ? ' or as soon as disk space is back' : ''}`);
      notify('warn', `database: restarting the embedded PostgreSQL failed (${this.lastError}); next attempt in ${next / 1000} s${full ? ' or as soon as disk space is back' : ''}`);
    }
  }

  /** How the last postmaster ended, as far as this process can tell. */
  private exitReason(): string {
    const pid = this.lastPid;
    const how = pid === null ? 'no postmaster.pid' : `postmaster pid ${pid} ${exitOf(pid) ?? 'no longer runs'}`;
    return this.lastWords ? `${how}; its log: ${this.lastWords}` : how;
  }

  /** null when PostgreSQL answered (on the connection kept for this, else a new one); else why not. */
  private async probeConnection(port: number): Promise<string | null> {
    if (this.probe && this.probe.port !== port) await this.closeProbe();
    if (this.probe) {
      try {
        await this.probe.client.query('select 1');
        return null;
      } catch {
        await this.closeProbe(); // lost (PostgreSQL restarted its processes, or stopped): a new connection says why
      }
    }
    const url = maintenanceUrl(this.options.dataDir, port);
    if (!url) return 'no credentials in the data directory';
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000, query_timeout: 2000, application_name: 'careos-supervisor' });
    client.on('error', () => undefined); // a lost connection: the next query says so
    try {
      await client.connect();
      await client.query('select 1');
      this.probe = { client, port };
      return null;
    } catch (error) {
      await client.end().catch(() => undefined);
      return firstLine(error);
    }
  }

  private async closeProbe(): Promise<void> {
    const probe = this.probe;
    this.probe = null;
    await probe?.client.end().catch(() => undefined);
  }

  /** Reads what postgres.log gained since the last look: out-of-space lines are recorded, last words kept. */
  private readLog(): void {
    const file = path.join(this.options.dataDir, 'postgres.log');
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.logOffset) this.logOffset = 0; // truncated or replaced
      if (size - this.logOffset > LOG_READ_BYTES) this.logOffset = size - LOG_READ_BYTES;
      if (size === this.logOffset) return;
      const buffer = Buffer.alloc(size - this.logOffset);
      fs.readSync(fd, buffer, 0, buffer.length, this.logOffset);
      const text = buffer.toString('utf8');
      const complete = text.lastIndexOf('\n') + 1; // a line being written is read next time
      this.logOffset += Buffer.byteLength(text.slice(0, complete));
      for (const line of text.slice(0, complete).split('\n')) {
        const said = line.replace(LOG_PREFIX, '').trim();
        if (!said) continue;
        // When PostgreSQL said it (UTC), so that a line read after space came back is not taken for news.
        const stamp = LOG_PREFIX.exec(line)?.[1];
        const at = stamp ? new Date(`${stamp.replace(' ', 'T')}Z`) : new Date();
        if (isOutOfSpace(new Error(said))) noteOutOfSpace(this.pgDir, said, null, Number.isNaN(at.getTime()) ? new Date().toISOString() : at.toISOString());
        if (LAST_WORDS.test(said)) this.lastWords = said;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Waits ms (in steps of pollMs at most), less when stopping or when `until` says so. */
  private async pause(ms: number, until: () => boolean = () => false): Promise<void> {
    const end = Date.now() + ms;
    while (this.supervising && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(this.pollMs, end - Date.now()));
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      if (until()) return;
    }
  }
}

/** DATABASE_URL: nothing to supervise; the status says so (and whether PostgreSQL said its disk is full). */
class ExternalDatabase implements DatabaseSupervision {
  private readonly since = new Date().toISOString();

  constructor() {
    setPostgresDataDir(null);
  }

  status(): DatabaseStatus {
    return { state: 'external', reason: 'an external PostgreSQL (DATABASE_URL): not supervised by careos', restarts: 0, since: this.since, diskFull: diskFull() };
  }

  async stop(): Promise<void> {}
}

let current: DatabaseSupervision | null = null;

/**
 * The server's supervision of its database: the embedded PostgreSQL watched and restarted, or,
 * with DATABASE_URL, a status saying it is external. Call it once the database is open (openApp);
 * stop() it first thing when the server stops. It is also the process's: a 503's detail says why
 * PostgreSQL is unreachable (databaseUnavailableReason).
 */
export function superviseDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'pgSharedBuffersMb'>, options: Partial<SupervisorOptions> = {}): DatabaseSupervision {
  current = config.databaseUrl
    ? new ExternalDatabase()
    : new DatabaseSupervisor({ dataDir: config.dataDir, settings: { sharedBuffersMb: config.pgSharedBuffersMb }, ...options }).start();
  return current;
}

/**
 * Why PostgreSQL is unreachable or cannot write, as the process's supervision knows it (stopped on
 * purpose, being restarted, recovering, a full disk), for the detail of a 503; null when it knows
 * nothing more than the error said.
 */
export function databaseUnavailableReason(): string | null {
  const status = current?.status();
  if (!status) return null;
  const parts: string[] = [];
  if (status.state === 'down' || status.state === 'restarting') parts.push(status.reason);
  if (status.diskFull) {
    const free = status.diskFull.freeBytes === null ? '' : `, ${formatBytes(status.diskFull.freeBytes)} free`;
    parts.push(`disk full: ${status.diskFull.where}${free}`);
  }
  return parts.length ? parts.join('; ') : null;
}

/**
 * What an error of the database or the disk means for a request, in one place for the API (HTTP
 * status) and the console (its error page): a full disk is a 507 saying what is full, PostgreSQL
 * unreachable a 503 saying why when the supervision knows; null for any other error.
 */
export function infrastructureError(error: unknown): AppError | null {
  if (isOutOfSpace(error)) return outOfSpaceError(error as Error);
  if (isDatabaseUnavailable(error)) {
    const why = databaseUnavailableReason();
    return new Unavailable(`PostgreSQL is not reachable right now${why ? ` (${why})` : ''}; try again in a few seconds (running imports pause and continue by themselves)`);
  }
  return null;
}
