// Stored uploads, in PostgreSQL: the UTF-8 copy of an uploaded file that its import's reader reads
// rows from. Kept in the database every server of the installation shares (two servers on one
// DATABASE_URL), not on the disk of the server that received it, so whichever server leads reads
// it — also after the server that received it died mid-read. Owns the table upload_chunk.
//
// A copy is written in 1 MB chunks, all in one transaction (a copy cut short by a crash never
// shows), before ImportStarted refers to it as `pg:<importId>`; it is read back a few chunks at a
// time (bounded memory for any size), and dropped once the import's rows are all in the event
// store (ImportFileRead): from then on nothing reads it. Chunks are stored uncompressed (EXTERNAL):
// compressing a CSV costs more CPU on the import path than the disk it saves is worth here.
import { Readable } from 'node:stream';
import type pg from 'pg';
import { withLock } from '../db/locks.ts';

export const UPLOAD_DDL = `
  create table if not exists upload_chunk (
    import_id text not null,
    chunk_no integer not null,
    bytes bytea not null,
    primary key (import_id, chunk_no)
  );
  alter table upload_chunk alter column bytes set storage external;
`;

const migrated = new WeakSet<pg.Pool>();

export async function migrateUploads(pool: pg.Pool): Promise<void> {
  // Under the schema lock: two processes starting at once would race on "create table if not exists".
  await withLock(pool, 'schema', (client) => client.query(UPLOAD_DDL));
  migrated.add(pool);
}

/** The stored-file reference of a copy kept here (ImportStarted's origin.storedFile). */
export function storedRef(importId: string): string {
  return `pg:${importId}`;
}

/** The import whose copy a reference names, or null for a copy on disk (imports made before). */
export function storedImportId(storedFile: string): string | null {
  return storedFile.startsWith('pg:') ? storedFile.slice(3) : null;
}

export const CHUNK_BYTES = 1 << 20;

/**
 * Writes a copy from its chunks (any sizes; regrouped into CHUNK_BYTES) in one transaction.
 * Throws what PostgreSQL throws (its disk full: 53100); nothing of the copy is left then.
 */
export async function writeUpload(pool: pg.Pool, importId: string, chunks: AsyncIterable<Buffer>): Promise<number> {
  // A process that did not open the app (a test, a bench script) has not migrated: the table is made here once.
  if (!migrated.has(pool)) await migrateUploads(pool);
  const client = await pool.connect();
  let bytes = 0;
  try {
    await client.query('begin');
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let chunkNo = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      await client.query('insert into upload_chunk (import_id, chunk_no, bytes) values ($1, $2, $3)', [importId, chunkNo++, Buffer.concat(pending, pendingBytes)]);
      pending = [];
      pendingBytes = 0;
    };
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      pending.push(chunk);
      pendingBytes += chunk.length;
      bytes += chunk.length;
      if (pendingBytes >= CHUNK_BYTES) await flush();
    }
    await flush();
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    client.release();
    throw error;
  }
  client.release();
  return bytes;
}

/** The copy as a stream of bytes, read a few chunks at a time. */
export function readUpload(pool: pg.Pool, importId: string, chunksPerRead = 2): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let next = 0;
    for (;;) {
      const { rows } = await pool.query<{ chunk_no: number; bytes: Buffer }>(
        'select chunk_no, bytes from upload_chunk where import_id = $1 and chunk_no >= $2 order by chunk_no limit $3',
        [importId, next, chunksPerRead],
      );
      for (const row of rows) {
        if (row.chunk_no !== next) throw new Error(`the stored copy of import ${importId} lacks chunk ${next}`);
        next++;
        yield row.bytes;
      }
      if (rows.length < chunksPerRead) return;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** Whether a copy is stored for this import (a resumed reader checks before reading). */
export async function uploadExists(db: pg.Pool | pg.ClientBase, importId: string): Promise<boolean> {
  const { rowCount } = await db.query('select 1 from upload_chunk where import_id = $1 limit 1', [importId]);
  return (rowCount ?? 0) > 0;
}

/** Drops a copy (its rows are all in the event store, or its import never started). */
export async function dropUpload(db: pg.Pool | pg.ClientBase, importId: string): Promise<void> {
  await db.query('delete from upload_chunk where import_id = $1', [importId]);
}
