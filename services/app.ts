// Composition root: wires configuration, PostgreSQL, the event store, the processor and the
// projections, and runs the engine: one leader process (a PostgreSQL advisory lock) runs the
// processor (which applies the projections) and picks up imports whose reader stopped; every other
// process (a second CLI, the console while a CLI imports) appends and waits.
import path from 'node:path';
import type pg from 'pg';
import type { Config } from './config.ts';
import { createPool, resolveDatabaseUrl } from './db/pool.ts';
import type { SourceName } from './events/types.ts';
import { PostgresEventStore, migrateEventStore } from './eventstore/postgres.ts';
import type { EventStore } from './eventstore/types.ts';
import { MessageChannel } from 'node:worker_threads';
import { startThread } from './threads/spawn.ts';
import { readerActive, startImport, type ReaderOptions } from './importer/reader.ts';
import { shopLocation } from './careshop/shop.ts';
import type { ReaderThreadInput } from './importer/reader-thread.ts';
import type { ProcessorThreadInput } from './processor/thread.ts';
import type { IntakeThreadInput } from './processor/intake.ts';
import { migrateProcessor } from './processor/processor-store.ts';
import { ProjectionRunner, migrateProjections } from '../projections/runner.ts';
import { migrateAuth } from './auth/sessions.ts';
import { migrateUploads } from './importer/upload-store.ts';
import { getImport, unreadImports, type ImportView } from '../projections/import-log.ts';
import { tryLock, unlock } from './db/locks.ts';
import { Conflict } from './errors.ts';
import { noteIfOutOfSpace, setPostgresDataDir } from './disk.ts';
import type { RebuildView } from '../schemas/api.ts';

export interface App {
  config: Config;
  /** The PostgreSQL actually used (DATABASE_URL or the embedded server). */
  databaseUrl: string;
  pool: pg.Pool;
  store: EventStore;
  projections: ProjectionRunner;
  readerOptions: ReaderOptions;
  /** Imports this process is reading right now (readFile), so the engine does not start a second reader. */
  reading: Map<string, Promise<void>>;
  close(): Promise<void>;
}

async function openEventStore(config: Config, pool: pg.Pool): Promise<EventStore> {
  if (config.eventstoreUrl) {
    const { EventStoreDbStore } = await import('./eventstore/eventstoredb.ts');
    return new EventStoreDbStore(config.eventstoreUrl, pool);
  }
  await migrateEventStore(pool);
  return new PostgresEventStore(pool);
}

export async function openApp(config: Config): Promise<App> {
  // Where PostgreSQL's "no space left" errors point: the embedded default's data directory.
  setPostgresDataDir(config.databaseUrl ? null : path.join(config.dataDir, 'pg'));
  const databaseUrl = await resolveDatabaseUrl(config);
  const pool = createPool(databaseUrl, 8);
  const store = await openEventStore(config, pool);
  await migrateProcessor(pool);
  await migrateProjections(pool);
  await migrateAuth(pool);
  await migrateUploads(pool);
  const projections = new ProjectionRunner(store, pool);
  return {
    config, databaseUrl, pool, store, projections,
    readerOptions: {
      dataDir: config.dataDir, maxFileBytes: config.maxFileBytes, batchRows: config.readBatchRows, careshop: shopLocation(config, databaseUrl),
    },
    reading: new Map(),
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface EngineEvents {
  /** An error of the engine's work (repeats are not thinned out here: the receiver decides). */
  onError?: (where: string, error: unknown) => void;
  /** A change worth telling the operator (leadership lost or taken again). Default: stderr. */
  onNotice?: (message: string) => void;
}

/**
 * The background work of a process: leader election, the processor thread, resumed readers.
 *
 * Leadership is a PostgreSQL advisory lock held on one connection. When that connection is lost
 * (PostgreSQL stopped or restarted), so is the lock: the engine stops its processor at once (another
 * process may take the lock as soon as PostgreSQL is back) and elects again until it can connect.
 */
export class Engine {
  private running = false;
  /** The processor's threads are stopped while this is set (a rebuild in this process). */
  private paused = false;
  private threadsUp = false;
  /** The last rebuild this engine ran (the console's progress bar); null when none. */
  private rebuildState: RebuildView | null = null;
  private loops: Promise<void>[] = [];
  private leaderClient: pg.PoolClient | null = null;
  /** True while this process holds the lock and its connection is alive. */
  private leading = false;
  private readonly reported = new Map<string, { message: string; at: number }>();

  constructor(private readonly app: App, private readonly events: EngineEvents = {}) {}

  get isLeader(): boolean {
    return this.leaderClient !== null;
  }

  /**
   * What the engine does now: leading (this process runs the processor), following (another
   * process leads; this one takes over when it goes), or stopped.
   */
  get role(): 'leading' | 'following' | 'stopped' {
    if (!this.running) return 'stopped';
    return this.leading ? 'leading' : 'following';
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = [this.leadLoop()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled(this.loops);
  }

  get rebuild(): RebuildView | null {
    return this.rebuildState && { ...this.rebuildState };
  }

  /**
   * Rebuilds every read model from the event store in this process, the processor paused
   * meanwhile (this engine keeps the leader lock, so no other process decides or rebuilds).
   * Returns at once with the rebuild's state; `rebuild` follows its progress.
   */
  startRebuild(by: string): RebuildView {
    if (this.rebuildState?.state === 'running') {
      throw new Conflict(`a rebuild is running already (started by ${this.rebuildState.startedBy} at ${this.rebuildState.startedAt})`);
    }
    if (!this.isLeader) throw new Conflict('another careos process runs the importer now: run careos rebuild there, or stop it and try again');
    const state: RebuildView = { state: 'running', startedBy: by, startedAt: new Date().toISOString(), finishedAt: null, fraction: null, applied: 0, error: null };
    this.rebuildState = state;
    this.paused = true;
    void (async () => {
      try {
        while (this.threadsUp) await sleep(50);
        const head = await this.app.store.headPosition();
        const logged = await this.app.projections.rebuild(by, ({ position, applied }) => {
          state.fraction = head.prepare > 0n ? Math.min(1, Number(position.prepare) / Number(head.prepare)) : 1;
          state.applied = applied;
        }, new Date(state.startedAt));
        state.finishedAt = logged.finishedAt; // as rebuild_log has it, so the page's two accounts agree
        state.fraction = 1;
        state.state = 'done';
      } catch (error) {
        state.state = 'failed';
        state.error = (error as Error).message;
        this.report('rebuild', error);
      } finally {
        state.finishedAt ??= new Date().toISOString();
        this.paused = false;
      }
    })();
    return { ...state };
  }

  private notice(message: string): void {
    if (this.events.onNotice) this.events.onNotice(message);
    else console.error(`careos: ${message}`);
  }

  /** Reports an error; the same message from the same place is repeated at most once a minute (PostgreSQL down). */
  private report(where: string, error: unknown): void {
    noteIfOutOfSpace(error); // the status says the disk is full (services/disk.ts)
    const message = (error as Error).message;
    const last = this.reported.get(where);
    if (last && last.message === message && Date.now() - last.at < 60_000) return;
    this.reported.set(where, { message, at: Date.now() });
    if (this.events.onError) return this.events.onError(where, error);
    console.error(`careos: ${where}: ${message}`);
  }

  private async leadLoop(): Promise<void> {
    let lostOnce = false;
    while (this.running) {
      let client: pg.PoolClient | null = null;
      try {
        client = await this.app.pool.connect();
        const locked = await tryLock(client, 'leader');
        this.reported.delete('leader election');
        if (locked) {
          if (lostOnce) this.notice('engine: leading again (PostgreSQL is back); the processor resumes');
          const lost = await this.lead(client);
          client = null;
          if (lost) {
            lostOnce = true;
            this.notice(`engine: lost its PostgreSQL connection (${lost.message}); the processor is paused until PostgreSQL is back`);
          }
        } else {
          client.release();
          client = null;
        }
      } catch (error) {
        client?.release(error as Error); // a broken connection is discarded, not reused
        this.report('leader election', error);
      }
      // Elect again in a moment; a stopping engine (a short CLI run) does not wait for it.
      for (let i = 0; i < 5 && this.running; i++) await sleep(50);
    }
  }

  /**
   * Runs the leader's work on the connection that holds the lock until the engine stops
   * (resolves null, lock released) or that connection is lost (resolves its error, work stopped).
   */
  private async lead(client: pg.PoolClient): Promise<Error | null> {
    let lose!: (error: Error) => void;
    const connectionLost = new Promise<Error>((resolve) => (lose = resolve));
    const onError = (error: Error) => lose(error);
    const onEnd = () => lose(new Error('the connection ended'));
    client.on('error', onError);
    client.on('end', onEnd);
    this.leaderClient = client;
    this.leading = true;
    const processor = { started: false };
    const work = Promise.all([this.processLoop(() => (processor.started = true)), this.resumeLoop(processor)]);
    const lost = await Promise.race([work.then(() => null), connectionLost]);
    this.leading = false;
    await work;
    this.leaderClient = null;
    client.off('error', onError);
    client.off('end', onEnd);
    if (lost) {
      client.release(lost);
      return lost;
    }
    await unlock(client, 'leader').catch(() => undefined);
    client.release();
    return null;
  }

  /**
   * The processor (which also projects) and its intake run on threads of their own, started
   * together and joined by a MessageChannel; when either dies both are stopped and started again.
   * Resolves when the engine stops.
   */
  private async processLoop(started: () => void): Promise<void> {
    const store = { databaseUrl: this.app.databaseUrl, eventstoreUrl: this.app.config.eventstoreUrl, nice: this.app.config.engineNice };
    const batchSize = this.app.config.processBatchRows;
    const heapMb = this.app.config.threadHeapMb;
    while (this.running && this.leading) {
      if (this.paused) {
        await sleep(50);
        continue;
      }
      const channel = new MessageChannel();
      const intakeInput: IntakeThreadInput = { ...store, batchSize };
      const processorInput: ProcessorThreadInput = { ...store, batchSize };
      const threads = [
        { where: 'intake', worker: startThread('intake', intakeInput, heapMb, channel.port1) },
        { where: 'processor', worker: startThread('processor', processorInput, heapMb, channel.port2) },
      ];
      const exits = threads.map(({ where, worker }) => {
        worker.on('message', (message: { error?: string; started?: boolean }) => {
          if (message?.error) this.report(where, new Error(message.error));
          if (message?.started) started();
        });
        worker.on('error', (error) => this.report(where, error));
        return new Promise<void>((resolve) => worker.on('exit', () => resolve()));
      });
      this.threadsUp = true;
      const anyExited = Promise.race(exits).then(() => true);
      while (this.running && this.leading && !this.paused) {
        if (await Promise.race([anyExited, sleep(50).then(() => false)])) break;
      }
      // Stopping, pausing, or one died: stop both (a stopped thread ignores the message).
      for (const { worker } of threads) worker.postMessage('stop');
      await Promise.all(exits);
      this.threadsUp = false;
      if (!this.running || !this.leading) return;
      if (this.paused) continue;
      await sleep(500); // a thread died: start both again
    }
  }

  /** Picks up imports whose file was not read to its end (a crashed reader), every second, once the processor has started. */
  private async resumeLoop(processor: { started: boolean }): Promise<void> {
    // After a crash the processor has rows to decide already: its first commit comes first (the
    // threads load on the same cores), then the readers it will need later. At most 3 s; polled,
    // so that an engine stopped meanwhile (a short CLI run) is not held up by a timer.
    for (let waited = 0; waited < 3000 && !processor.started && this.running && this.leading; waited += 50) await sleep(50);
    while (this.running && this.leading) {
      try {
        for (const importId of await unreadImports(this.app.pool)) {
          // A reader of this process (the one importFile's caller starts, or one started here
          // before), or of another process, is still at work.
          if (this.app.reading.has(importId) || (await readerActive(this.app.pool, importId))) continue;
          readFile(this.app, importId).catch((error) => this.report(`reading import ${importId}`, error));
        }
      } catch (error) {
        this.report('resume', error);
      }
      for (let i = 0; i < 20 && this.running && this.leading; i++) await sleep(50);
    }
  }
}

export interface ImportRequest {
  filePath: string;
  fileName: string;
  source: SourceName;
  by: string;
}

/** Starts an import and reads its file in this process (unless another reader already is). */
export async function importFile(app: App, request: ImportRequest): Promise<string> {
  const importId = await startImport(app.store, request, app.readerOptions, app.pool);
  return importId;
}

/**
 * Reads an import's stored file into RowReceived events on a worker thread (see
 * reader-thread.ts). Resolves when the file is read, or at once when another reader has it.
 */
export function readFile(app: App, importId: string): Promise<void> {
  const running = app.reading.get(importId);
  if (running) return running;
  const input: ReaderThreadInput = {
    databaseUrl: app.databaseUrl, eventstoreUrl: app.config.eventstoreUrl, importId, options: app.readerOptions, nice: app.config.engineNice,
  };
  // At most maxReaders imports are read at once in a process; the others wait for a turn (their
  // copies are in PostgreSQL): five uploads at once would otherwise be five threads with five heaps.
  const read = readerTurn(app).then((done) => startReader(app, input, importId).finally(done));
  app.reading.set(importId, read);
  read.then(() => app.reading.delete(importId), () => app.reading.delete(importId));
  return read;
}

const turns = new WeakMap<App, { running: number; waiting: (() => void)[] }>();

/** Waits for a reader's turn in this process; resolves with the function that ends it. */
function readerTurn(app: App): Promise<() => void> {
  let state = turns.get(app);
  if (!state) turns.set(app, (state = { running: 0, waiting: [] }));
  const slots = state;
  const done = () => {
    slots.running--;
    slots.waiting.shift()?.();
  };
  if (slots.running < Math.max(1, app.config.maxReaders ?? 2)) {
    slots.running++;
    return Promise.resolve(done);
  }
  return new Promise((resolve) => slots.waiting.push(() => {
    slots.running++;
    resolve(done);
  }));
}

function startReader(app: App, input: ReaderThreadInput, importId: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const worker = startThread('reader', input, app.config.threadHeapMb);
    let settled = false;
    worker.on('message', (message: { ok: boolean; message?: string; stack?: string }) => {
      settled = true;
      if (message.ok) resolve();
      else reject(Object.assign(new Error(message.message), { stack: message.stack }));
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`reader thread for import ${importId} stopped (exit ${code})`));
    });
  });
}

/** Waits until the import log shows the import finished (every read model has caught up with it). */
export async function waitForImport(app: App, importId: string, pollMs = 25): Promise<ImportView> {
  for (;;) {
    const view = await getImport(app.pool, importId);
    if (view && view.status !== 'In progress') return view;
    await sleep(pollMs);
  }
}
