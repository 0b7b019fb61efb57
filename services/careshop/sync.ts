// Starting a Care Shop sync: an import whose origin is the shop's customer table. One at a time
// across processes (an advisory lock while starting, and the import log's "In progress" after),
// behind the Nana gate; it reads after the last record the previous sync read.
import type pg from 'pg';
import { Conflict } from '../errors.ts';
import { readImportEvents } from '../events/import-stream.ts';
import { streams, type ImportStartedData, type RowReceivedData } from '../events/types.ts';
import type { EventStore } from '../eventstore/types.ts';
import { tryLock, unlock } from '../db/locks.ts';
import { importsInProgress, type RunningImport } from '../../projections/import-log.ts';
import { assertCareshopAllowed } from '../importer/onboarding.ts';
import { startTableImport } from '../importer/reader.ts';
import { CARESHOP_FIELDS, NOT_CONFIGURED, checkShopTable, encodeCursor, ensureDemo, keysetOf, type ShopLocation } from './shop.ts';

export interface SyncContext {
  store: EventStore;
  pool: pg.Pool;
  /** The importer's own database (the demo Care Shop database sits beside it). */
  databaseUrl: string;
  careshop: ShopLocation | null;
}

/** The Care Shop table sync still in progress, if any. */
export async function runningSync(db: pg.Pool): Promise<RunningImport | null> {
  return (await importsInProgress(db, { source: 'careshop', origin: 'table' }))[0] ?? null;
}

/** Where the next sync starts: after the last record the latest sync read (null: the first sync reads everything). */
export async function nextCursor(store: EventStore, db: pg.Pool): Promise<string | null> {
  const { rows } = await db.query<{ import_id: string }>(
    `select import_id from import_log where source = 'careshop' and origin = 'table'
      order by import_date desc, import_id desc limit 1`,
  );
  const latest = rows[0]?.import_id;
  if (!latest) return null;
  const streamId = streams.import(latest);
  const revision = await store.streamRevision(streamId);
  if (revision === null) throw new Error(`import ${latest} is in the import log but has no events`);
  const tail = await store.readStream(streamId, { fromRevision: revision > 0n ? revision - 1n : 0n, maxCount: 2 });
  const [before, last] = await readImportEvents(store, latest, tail);
  if (last?.type !== 'ImportFileRead') throw new Conflict(`the Care Shop sync ${latest} has not finished reading; careos resume finishes it`);
  if (before?.type === 'RowReceived') return encodeCursor(keysetOf((before.data as RowReceivedData).record));
  if (before?.type === 'ImportStarted') {
    const origin = (before.data as ImportStartedData).origin;
    return origin.kind === 'table' ? origin.cursor : null;
  }
  throw new Error(`import ${latest} ends with ${before?.type} before its ImportFileRead`);
}

/**
 * Starts a sync (ImportStarted; the import log lists it at once) and returns its id; the caller
 * reads it (readFile). Conflict when not configured, behind the gate, or another sync runs.
 */
export async function startCareshopSync(context: SyncContext, by: string, now = new Date()): Promise<string> {
  const location = context.careshop;
  if (!location) throw new Conflict(NOT_CONFIGURED);
  await assertCareshopAllowed(context.store, context.pool);
  const client = await context.pool.connect();
  try {
    if (!(await tryLock(client, 'careshopSync'))) throw new Conflict('a Care Shop sync is being started by someone else right now; see the import log');
    try {
      const running = await runningSync(context.pool);
      if (running) {
        throw new Conflict(`a Care Shop sync is already running (import ${running.importId}, started by ${running.importedBy} at ${running.importDate.toISOString()}); wait for it to finish`);
      }
      await ensureDemo(location, context.databaseUrl);
      await checkShopTable(location);
      const cursor = await nextCursor(context.store, context.pool);
      return await startTableImport(context.store, { source: 'careshop', by, table: location.table, cursor, columns: CARESHOP_FIELDS }, now);
    } finally {
      await unlock(client, 'careshopSync');
    }
  } finally {
    client.release();
  }
}
