// Starting an import and reading its rows (from its row source: a CSV file today) into
// RowReceived events.
//
// Resumable: rows go to the import's own stream with an expected revision, and row N is stream
// revision N (ImportStarted is revision 0). After a crash the reader asks the stream where it
// stopped and continues after it; a duplicate append fails loudly instead of doubling rows.
// One reader per import at a time (an advisory lock), so resuming never races a live reader.
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { checkEvent, toImporterEvent } from '../events/schemas.ts';
import { recordKeys, storedRowReceived } from '../events/row-received.ts';
import { readImportEvents } from '../events/import-stream.ts';
import { eventId, uuidV7 } from '../events/ids.ts';
import type { EventMetadata, ImportOrigin, ImportStartedData, RowReceivedData, SourceName } from '../events/types.ts';
import { streams } from '../events/types.ts';
import type { EventStore, NewEvent, RecordedEvent, StreamAppend } from '../eventstore/types.ts';
import { importLogProjection } from '../../projections/import-log.ts';
import type { PositionedEvent } from '../../projections/types.ts';
import { checkFile, utf8Copy } from './files.ts';
import { dropUpload, storedImportId, storedRef, writeUpload } from './upload-store.ts';
import { rowSource } from './row-source.ts';
import type { ShopLocation } from '../careshop/shop.ts';
import { tryLock, unlock } from '../db/locks.ts';
import { isDatabaseUnavailable } from '../db/pool.ts';

export interface StartImport {
  filePath: string;
  fileName: string;
  source: SourceName;
  by: string;
}

export interface ReaderOptions {
  dataDir: string;
  maxFileBytes: number;
  batchRows: number;
  /** Where Care Shop table syncs read (null: not configured). */
  careshop: ShopLocation | null;
  now?: () => Date;
}

/**
 * Checks the file, stores its UTF-8 copy in PostgreSQL (upload-store.ts: every server of the
 * installation reads it from there) and appends ImportStarted. Throws FileRefused.
 */
export async function startImport(store: EventStore, request: StartImport, options: ReaderOptions, pool: pg.Pool): Promise<string> {
  const checked = checkFile(request.filePath, request.fileName, request.source, options.maxFileBytes);
  const now = options.now ?? (() => new Date());
  const importId = uuidV7(now().getTime());
  await writeUpload(pool, importId, utf8Copy(request.filePath, request.fileName, checked.encoding));
  const origin: ImportOrigin = { kind: 'file', fileName: path.basename(request.fileName), storedFile: storedRef(importId), sizeBytes: checked.sizeBytes };
  try {
    await appendStarted(store, { importId, source: request.source, columns: checked.columns, origin }, { by: request.by, at: now().toISOString(), importId, v: 2 });
  } catch (error) {
    // Refused (PostgreSQL's disk full, PostgreSQL down, …): nothing started, so the copy would be
    // read by no one. A connection lost mid-way may have committed ImportStarted all the same: the
    // copy stays then, for the import to be read from.
    if (!connectionLostMidway(error)) await dropUpload(pool, importId).catch(() => undefined);
    throw error;
  }
  return importId;
}

/**
 * A connection that broke after it was made (terminated, reset, the server crashing or shutting
 * down): what was sent on it may have been committed. Not: a connection refused or never made
 * (PostgreSQL down, starting, recovering, full of connections), or a statement PostgreSQL refused.
 */
function connectionLostMidway(error: unknown): boolean {
  if (!isDatabaseUnavailable(error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === '57P03' || code === '53300' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return false;
  if (error instanceof AggregateError) return error.errors.some(connectionLostMidway); // every address refused
  return true;
}

/** Appends ImportStarted for a table sync (Care Shop) reading after `cursor`; returns the import id. */
export async function startTableImport(
  store: EventStore, request: { source: SourceName; by: string; table: string; cursor: string | null; columns: readonly string[] }, now = new Date(),
): Promise<string> {
  const importId = uuidV7(now.getTime());
  const origin: ImportOrigin = { kind: 'table', table: request.table, cursor: request.cursor };
  await appendStarted(store, { importId, source: request.source, columns: [...request.columns], origin }, { by: request.by, at: now.toISOString(), importId, v: 2 });
  return importId;
}

/** The raw record of row `row` of an import, as received (revision `row` of its stream); null when there is none. */
export async function receivedRecord(store: EventStore, importId: string, row: number): Promise<Record<string, string> | null> {
  return (await receivedRecords(store, [{ importId, row }])).get(`${importId}#${row}`) ?? null;
}

/**
 * The raw records of several rows (keyed "importId#row"; null where there is none), each import's
 * columns read once for all its rows stored as values.
 */
export async function receivedRecords(store: EventStore, rows: readonly { importId: string; row: number }[]): Promise<Map<string, Record<string, string> | null>> {
  const records = new Map<string, Record<string, string> | null>();
  const byImport = new Map<string, { row: number; stored: RecordedEvent }[]>();
  for (const { importId, row } of rows) {
    const key = `${importId}#${row}`;
    if (records.has(key)) continue;
    records.set(key, null);
    if (row < 1) continue;
    const [stored] = await store.readStream(streams.import(importId), { fromRevision: BigInt(row), maxCount: 1 });
    if (!stored || stored.type !== 'RowReceived') continue;
    let list = byImport.get(importId);
    if (!list) byImport.set(importId, (list = []));
    list.push({ row, stored });
  }
  for (const [importId, list] of byImport) {
    const events = await readImportEvents(store, importId, list.map((r) => r.stored));
    list.forEach(({ row }, i) => records.set(`${importId}#${row}`, (events[i] as { data: RowReceivedData }).data.record));
  }
  return records;
}

/**
 * A replay started from the console or the API (rejected rows fixed in place, or sent again
 * unchanged): ImportStarted (origin replay), one RowReceived per row — its record naming the
 * rejected row in `_replay_of` — and ImportFileRead, appended together: there is no file to read,
 * and the processor decides the rows like any others. Returns the import id.
 */
export async function startReplayImport(
  store: EventStore,
  request: { source: SourceName; by: string; of: string; columns: readonly string[]; rows: readonly { row: number; record: Record<string, string> }[] },
  now = new Date(),
): Promise<string> {
  const importId = uuidV7(now.getTime());
  const at = now.toISOString();
  const streamId = streams.import(importId);
  const started: ImportStartedData = {
    importId, source: request.source, columns: [...request.columns], origin: { kind: 'replay', of: request.of, rows: request.rows.map((r) => r.row) },
  };
  const startedMetadata: EventMetadata = { by: request.by, at, importId, v: 2 };
  checkEvent('ImportStarted', started, startedMetadata);
  const events: NewEvent[] = [{ id: eventId(importId, 0, 'started'), type: 'ImportStarted', data: started, metadata: startedMetadata }];
  const keys = recordKeys(request.columns);
  request.rows.forEach(({ record }, i) => {
    const row = i + 1;
    const data = storedRowReceived(importId, request.source, row, record, keys);
    const metadata: EventMetadata = { by: request.by, at, importId, row, v: 2 };
    checkEvent('RowReceived', data, metadata);
    events.push({ id: eventId(importId, row, 'received'), type: 'RowReceived', data, metadata });
  });
  const fileRead = { importId, totalRows: request.rows.length };
  const fileReadMetadata: EventMetadata = { by: request.by, at, importId, v: 1 };
  checkEvent('ImportFileRead', fileRead, fileReadMetadata);
  events.push({ id: eventId(importId, 0, 'file-read'), type: 'ImportFileRead', data: fileRead, metadata: fileReadMetadata });
  await appendAndLog(store, { streamId, expectedRevision: 'no_stream', events });
  return importId;
}

/** An import's first event, checked, at revision 0 of its stream, and in the import log at once. */
async function appendStarted(store: EventStore, data: ImportStartedData, metadata: EventMetadata): Promise<void> {
  checkEvent('ImportStarted', data, metadata);
  await appendAndLog(store, {
    streamId: streams.import(data.importId),
    expectedRevision: 'no_stream',
    events: [{ id: eventId(data.importId, 0, 'started'), type: 'ImportStarted', data, metadata }],
  });
}

/**
 * Appends an import-level event (ImportStarted, ImportFileRead, RevertRequested) and shows it in the import log at
 * once, in the same transaction with the PostgreSQL store: the processor applies it again when it
 * gets there (idempotent), but the console lists an import, and knows its file is read, from the
 * moment it is so.
 */
export async function appendAndLog(store: EventStore, append: StreamAppend): Promise<void> {
  await store.appendMany([append], async (client, [result]) => {
    const logged = append.events.filter((event) => event.type === 'ImportStarted' || event.type === 'ImportFileRead' || event.type === 'RevertRequested');
    await importLogProjection.apply(client, logged.map((event) => ({ type: event.type, data: event.data, metadata: event.metadata, position: result!.position }) as PositionedEvent));
  });
}

/** Runs work while holding the import's reader lock; returns false when another reader holds it. */
async function withReaderLock(pool: pg.Pool, importId: string, work: () => Promise<void>): Promise<boolean> {
  const client = await pool.connect();
  try {
    if (!(await tryLock(client, 'reader', importId))) return false;
    try {
      await work();
    } finally {
      await unlock(client, 'reader', importId);
    }
    return true;
  } finally {
    client.release();
  }
}

/**
 * Whether some process is reading the import's file right now (holds its reader lock). Lets a
 * resume loop skip live readers without starting a thread just to find the lock taken.
 */
export async function readerActive(pool: pg.Pool, importId: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    const locked = await tryLock(client, 'reader', importId);
    if (locked) await unlock(client, 'reader', importId);
    return !locked;
  } finally {
    client.release();
  }
}

/**
 * Reads the rows of an import (from its row source) into RowReceived events, from where it stopped, and ends
 * with ImportFileRead. Returns false when another process is reading it right now.
 */
export async function readImport(store: EventStore, pool: pg.Pool, importId: string, options: ReaderOptions): Promise<boolean> {
  return withReaderLock(pool, importId, async () => {
    const streamId = streams.import(importId);
    const [started] = await store.readStream(streamId, { maxCount: 1 });
    if (!started || started.type !== 'ImportStarted') throw new Error(`import ${importId} has no ImportStarted event`);
    const { data: startedData, metadata: startedMetadata } = toImporterEvent(started) as { data: ImportStartedData; metadata: EventMetadata };
    const { source, columns, origin } = startedData;
    const by = startedMetadata.by;
    let revision = (await store.streamRevision(streamId))!;
    const [last] = await store.readStream(streamId, { fromRevision: revision, maxCount: 1 });
    if (last?.type === 'ImportFileRead') return;
    const alreadyRead = Number(revision); // rows 1..revision are in the stream
    const now = options.now ?? (() => new Date());

    let batch: NewEvent[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const result = await store.append({ streamId, expectedRevision: revision, events: batch });
      revision = result.nextExpectedRevision;
      batch = [];
    };
    let batchAt = now().toISOString();
    let row = alreadyRead;
    const keys = recordKeys(columns);
    const push = (record: Record<string, string>) => {
      row++;
      if (batch.length === 0) batchAt = now().toISOString();
      const data = storedRowReceived(importId, source, row, record, keys);
      const metadata: EventMetadata = { by, at: batchAt, importId, row, v: 2 };
      checkEvent('RowReceived', data, metadata);
      batch.push({ id: eventId(importId, row, 'received'), type: 'RowReceived', data, metadata });
      return batch.length >= options.batchRows;
    };

    const lastRecord = last?.type === 'RowReceived' ? (toImporterEvent(last, keys) as { data: RowReceivedData }).data.record : null;
    const rows = rowSource(origin, columns, { dataDir: options.dataDir, careshop: options.careshop, startedAt: startedMetadata.at, pool });
    for await (const record of rows.rows(alreadyRead, lastRecord)) {
      if (push(record)) await flush();
    }
    await flush();
    const metadata: EventMetadata = { by, at: now().toISOString(), importId, v: 1 };
    const fileRead = { importId, totalRows: row };
    checkEvent('ImportFileRead', fileRead, metadata);
    await appendAndLog(store, {
      streamId,
      expectedRevision: revision,
      events: [{ id: eventId(importId, 0, 'file-read'), type: 'ImportFileRead', data: fileRead, metadata }],
    });
    // Every row is in the event store now: the stored copy is read by no one any more.
    const stored = origin.kind === 'file' ? storedImportId(origin.storedFile) : null;
    if (stored) await dropUpload(pool, stored);
  });
}
