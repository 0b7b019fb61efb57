// Stored uploads live in PostgreSQL (upload-store.ts): the copy is written whole or not at all, read
// back byte for byte in bounded chunks, found by a reader in another process (any server of the
// installation), and dropped once every row is in the event store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import { CHUNK_BYTES, readUpload, uploadExists, writeUpload } from './upload-store.ts';
import { readImport, startImport, type ReaderOptions } from './reader.ts';
import { FileRefused } from '../errors.ts';
import { streams } from '../events/types.ts';
import { migrateProjections } from '../../projections/runner.ts';

let db: TestDatabase;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-uploads-'));

test.before(async () => {
  db = await createTestDatabase();
});

test.after(async () => {
  await db.drop();
  fs.rmSync(work, { recursive: true, force: true });
});

async function readAll(importId: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readUpload(db.pool, importId, 2)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function* pieces(content: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < content.length; i += size) yield content.subarray(i, i + size);
}

test('upload store › a copy of several chunks reads back byte for byte, chunk by chunk', async () => {
  const content = Buffer.alloc(CHUNK_BYTES * 3 + 12345);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251;
  const bytes = await writeUpload(db.pool, 'import-a', pieces(content, 300_000));
  assert.is(bytes, content.length);
  const { rows } = await db.pool.query<{ n: number }>("select count(*)::int as n from upload_chunk where import_id = 'import-a'");
  assert.is(rows[0]!.n, 3, 'stored in chunks of about 1 MB (the pieces regrouped)');
  assert.ok((await readAll('import-a')).equals(content));
});

test('upload store › a copy that fails half-way (a refused file, a full disk) leaves nothing behind', async () => {
  async function* failing(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(CHUNK_BYTES * 2, 0x41);
    throw new FileRefused('bad.csv', 'not decodable text: the file ends inside a character');
  }
  try {
    await writeUpload(db.pool, 'import-b', failing());
    assert.unreachable('the copy was stored');
  } catch (error) {
    assert.instance(error, FileRefused);
  }
  assert.not.ok(await uploadExists(db.pool, 'import-b'), 'chunks of the failed copy were left');
});

test('upload store › an import\'s copy is in PostgreSQL for any process to read, none on the receiving server\'s disk, and is dropped once its rows are all stored', async () => {
  const store = await PostgresEventStore.create(db.pool);
  await migrateProjections(db.pool);
  const file = path.join(work, 'nana.csv');
  fs.writeFileSync(file, 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create\n,n1,F,Ploy,One,,,0812000001,,\n,n2,M,Chai,Two,,,0812000002,,\n');
  const receiving: ReaderOptions = { dataDir: path.join(work, 'server-a'), maxFileBytes: 1 << 20, batchRows: 1, careshop: null };
  const importId = await startImport(store, { filePath: file, fileName: 'nana.csv', source: 'nana', by: 'tester' }, receiving, db.pool);
  assert.ok(await uploadExists(db.pool, importId));
  assert.not.ok(fs.existsSync(path.join(work, 'server-a', 'uploads')), 'a copy was written to the receiving server\'s disk');
  // Another server (another data directory, nothing on its disk) reads the rows.
  const leading: ReaderOptions = { ...receiving, dataDir: path.join(work, 'server-b') };
  assert.ok(await readImport(store, db.pool, importId, leading));
  const events = await store.readStream(streams.import(importId));
  assert.equal(events.map((e) => e.type), ['ImportStarted', 'RowReceived', 'RowReceived', 'ImportFileRead']);
  assert.not.ok(await uploadExists(db.pool, importId), 'the copy is still stored after every row was read');
});

test.run();
