// Care Shop table syncs, in process against real PostgreSQL: a shop database beside the
// importer's, keyset pages, the history skip, one sync at a time, the Nana gate, and a sync
// interrupted mid-table resumed after the last stored record.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../config.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import { markOnboarding } from '../importer/onboarding.ts';
import { readImport, startImport, type ReaderOptions } from '../importer/reader.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { streams } from '../events/types.ts';
import { importStreamEvents } from '../events/import-stream.ts';
import { Processor } from '../processor/run.ts';
import { migrateProcessor } from '../processor/processor-store.ts';
import { getImport } from '../../projections/import-log.ts';
import { errorsOf } from '../../projections/error-log.ts';
import { historyEntries } from '../../projections/history.ts';
import { ProjectionRunner, migrateProjections } from '../../projections/runner.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { rowsScanned } from '../../test/support/plan.ts';
import { stepUntilFinished } from '../../test/support/steps.ts';
import { demoTableDdl, pageSql, type ShopLocation } from './shop.ts';
import { startCareshopSync } from './sync.ts';

interface World {
  importer: TestDatabase;
  shop: TestDatabase;
  store: PostgresEventStore;
  location: ShopLocation;
  options: ReaderOptions;
  processor: Processor;
}

async function world(pageRows = 5): Promise<World> {
  const importer = await createTestDatabase();
  const shop = await createTestDatabase();
  const store = await PostgresEventStore.create(importer.pool);
  await migrateProcessor(importer.pool);
  await migrateProjections(importer.pool);
  const location: ShopLocation = { url: shop.url, demo: false, table: 'public.customer', columns: loadConfig({}).careshop.columns, pageRows };
  await shop.pool.query(demoTableDdl(location));
  const options: ReaderOptions = { dataDir: '/nonexistent', maxFileBytes: 1 << 30, batchRows: 5, careshop: location };
  return { importer, shop, store, location, options, processor: new Processor(store, importer.pool, { batchSize: 7 }) };
}

async function drop(w: World): Promise<void> {
  await w.processor.flush().catch(() => undefined);
  await w.importer.drop();
  await w.shop.drop();
}

/** Customers CS-0001… with distinct valid phones, changed at `at`. */
async function addCustomers(w: World, from: number, count: number, at: string): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await w.shop.pool.query(
      'insert into customer (customer_id, firstname, lastname, mobile_phone, email, updated_at) values ($1, $2, $3, $4, $5, $6)',
      [`CS-${String(i).padStart(4, '0')}`, `First${i}`, `Last${i}`, `08${String(10_000_000 + i * 7919).slice(0, 8)}`, i % 2 ? `c${i}@example.co.th` : null, at],
    );
  }
}

async function rejects(work: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await work();
  } catch (error) {
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a failure matching ${pattern}`);
}

function context(w: World) {
  return { store: w.store, pool: w.importer.pool, databaseUrl: w.importer.url, careshop: w.location };
}

async function open(w: World): Promise<void> {
  await markOnboarding(w.store, w.importer.pool, { by: 'admin', complete: true });
}

async function sync(w: World, by = 'admin') {
  const importId = await startCareshopSync(context(w), by);
  await readImport(w.store, w.importer.pool, importId, w.options);
  await stepUntilFinished(w.processor, w.importer.pool, importId);
  return (await getImport(w.importer.pool, importId))!;
}

async function receivedIds(w: World, importId: string): Promise<string[]> {
  const events = await w.store.readStream(streams.import(importId));
  return importStreamEvents(events).flatMap((e) => (e.type === 'RowReceived' ? [e.data.record.customer_id!] : []));
}

/** Counts the page queries a sync sends to the shop, and the most rows one returned. */
function countPages(): { pages: number; largest: number; restore(): void } {
  const original = pg.Client.prototype.query;
  const seen = { pages: 0, largest: 0, restore: () => { pg.Client.prototype.query = original; } };
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    const text = typeof args[0] === 'string' ? args[0] : '';
    const limit = Array.isArray(args[1]) ? Number(args[1][3]) : 0;
    if (text.includes('order by') && text.includes('limit $4') && limit > 0 && result instanceof Promise) {
      seen.pages++;
      result.then((r: { rows: unknown[] }) => { seen.largest = Math.max(seen.largest, r.rows.length); }, () => undefined);
    }
    return result;
  } as typeof original;
  return seen;
}

test('careshop sync › a record with a value over 500 characters (the shop\'s text column holds any length) is rejected with a reason naming the field; one whose customer id is that long is rejected too and kept out of the history log; the records around them are synced', async () => {
  const w = await world();
  try {
    await open(w);
    await addCustomers(w, 1, 2, '2026-11-01T00:00:00Z');
    const insert = 'insert into customer (customer_id, firstname, lastname, mobile_phone, email, updated_at) values ($1, $2, $3, $4, null, $5)';
    await w.shop.pool.query(insert, ['CS-LONG-NAME', 'ก'.repeat(600), 'Jaidee', '0812345601', '2026-11-02T00:00:00Z']);
    await w.shop.pool.query(insert, [`CS-${'9'.repeat(600)}`, 'Somchai', 'Dee', '0812345602', '2026-11-03T00:00:00Z']);
    const view = await sync(w);
    assert.equal([view.status, view.totalRows, view.importedRows, view.rejectedRows], ['Failed', 4, 2, 2]);
    const errors = await errorsOf(w.importer.pool, view.importId);
    assert.equal(errors.map((e) => e.reasons.map((r) => [r.field, r.code])), [[['firstname', 'unstorable']], [['customer_id', 'unstorable']]]);
    assert.match(errors[0]!.reasons[0]!.message, /^firstname is 600 characters long \("ก{60}"…\); at most 500 characters are accepted$/);
    assert.match(errors[1]!.reasons[0]!.message, /^customer_id is 603 characters long \("CS-9{57}"…\); at most 500 characters are accepted$/);
    const { items } = await historyEntries(w.importer.pool, { source: 'careshop', importId: view.importId, limit: 10, offset: 0 });
    assert.equal(items.map((h) => [h.originalId, h.outcome]), [['CS-0001', 'created'], ['CS-0002', 'created'], ['CS-LONG-NAME', 'rejected']]);
  } finally {
    await drop(w);
  }
});

test('careshop sync › refused until Nana onboarding is marked complete, with the reason', async () => {
  const w = await world();
  try {
    await addCustomers(w, 1, 3, '2026-11-01T00:00:00Z');
    await rejects(() => startCareshopSync(context(w), 'admin'), /until Nana onboarding is marked complete/);
    await open(w);
    const view = await sync(w);
    assert.equal([view.status, view.totalRows, view.importedRows], ['Success', 3, 3]);
  } finally {
    await drop(w);
  }
});

test('careshop sync › refused while a Nana import is in progress, naming it; the gate cannot be marked complete meanwhile', async () => {
  const w = await world();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-gate-'));
  try {
    const file = path.join(work, 'nana.csv');
    writeNanaFile(file, 20);
    await open(w);
    // A late Nana file arrives after the gate was marked: Care Shop waits while it runs.
    const nanaId = await startImport(w.store, { filePath: file, fileName: 'nana-march.csv', source: 'nana', by: 'admin' }, { ...w.options, dataDir: work }, w.importer.pool);
    const inProgress = new RegExp(`while a Nana import is in progress \\(import ${nanaId}, nana-march.csv\\)`);
    await rejects(() => startCareshopSync(context(w), 'admin'), inProgress);
    await markOnboarding(w.store, w.importer.pool, { by: 'admin', complete: false, reason: 'the March file' });
    await rejects(() => markOnboarding(w.store, w.importer.pool, { by: 'admin', complete: true }), inProgress);
    await readImport(w.store, w.importer.pool, nanaId, { ...w.options, dataDir: work });
    await stepUntilFinished(w.processor, w.importer.pool, nanaId);
    await open(w);
    await addCustomers(w, 1, 2, '2026-11-01T00:00:00Z');
    const view = await sync(w);
    assert.equal([view.status, view.totalRows], ['Success', 2]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    await drop(w);
  }
});

test('careshop sync › reads the table in keyset pages (never all of it at once), every record once, in (updated_at, id) order', async () => {
  const w = await world(5);
  const pages = countPages();
  try {
    await open(w);
    await addCustomers(w, 13, 11, '2026-11-01T00:00:00Z');
    await addCustomers(w, 1, 12, '2026-11-02T00:00:00Z');
    const view = await sync(w);
    assert.equal([view.totalRows, view.importedRows, view.origin, view.fileName], [23, 23, 'table', 'table public.customer']);
    assert.is(pages.pages, 5, '23 records in pages of 5: 5 queries');
    assert.is(pages.largest, 5);
    const ids = await receivedIds(w, view.importId);
    const expected = [...Array.from({ length: 11 }, (_, i) => 13 + i), ...Array.from({ length: 12 }, (_, i) => 1 + i)].map((i) => `CS-${String(i).padStart(4, '0')}`);
    assert.equal(ids, expected);
  } finally {
    pages.restore();
    await drop(w);
  }
});

test('careshop sync › a record already in the history is skipped; a sync with nothing new ends at once with Success and zero rows; the history rebuilds from the events', async () => {
  const w = await world();
  try {
    await open(w);
    await addCustomers(w, 1, 4, '2026-11-01T00:00:00Z');
    const first = await sync(w);
    assert.equal([first.totalRows, first.importedRows, first.skippedRows], [4, 4, 0]);
    const nothing = await sync(w);
    assert.equal([nothing.status, nothing.totalRows, nothing.importedRows, nothing.rejectedRows, nothing.skippedRows], ['Success', 0, 0, 0, 0]);
    // The shop changes CS-0002 after it was synced: the next sync reads it again and skips it (the spec's rule).
    await w.shop.pool.query("update customer set lastname = 'Changed', updated_at = '2026-11-20T08:00:00Z' where customer_id = 'CS-0002'");
    await addCustomers(w, 5, 1, '2026-11-20T09:00:00Z');
    const again = await sync(w);
    assert.equal([again.status, again.totalRows, again.importedRows, again.skippedRows], ['Success', 2, 1, 1]);
    const { items: [entry] } = await historyEntries(w.importer.pool, { source: 'careshop', originalId: 'CS-0002', limit: 10, offset: 0 });
    assert.equal([entry!.importId, entry!.outcome, entry!.changedAt, entry!.skippedTimes, entry!.lastSkippedImportId], [first.importId, 'created', '2026-11-20T08:00:00.000Z', 1, again.importId]);
    const profiles = await w.importer.pool.query("select count(*)::int as n from profile where source = 'careshop'");
    assert.is(profiles.rows[0].n, 5, 'the changed record made no second profile');
    // The history log is a read model like the others: rebuilt from the events, it is the same.
    const before = await dumpReadModels(w.importer.pool);
    assert.is(before.history.length, 5);
    await new ProjectionRunner(w.store, w.importer.pool).rebuild('tester');
    assert.equal(await dumpReadModels(w.importer.pool), before);
  } finally {
    await drop(w);
  }
});

test('careshop sync › one at a time: a second sync while one is in progress is refused, naming it', async () => {
  const w = await world();
  try {
    await open(w);
    await addCustomers(w, 1, 2, '2026-11-01T00:00:00Z');
    const running = await startCareshopSync(context(w), 'admin');
    await rejects(() => startCareshopSync(context(w), 'scheduler'), new RegExp(`already running \\(import ${running}`));
    await readImport(w.store, w.importer.pool, running, w.options);
    await stepUntilFinished(w.processor, w.importer.pool, running);
    const next = await sync(w, 'scheduler');
    assert.equal([next.status, next.totalRows, next.importedBy], ['Success', 0, 'scheduler']);
  } finally {
    await drop(w);
  }
});

test('careshop sync › interrupted mid-table, it resumes after the last stored record: every record exactly once, in order', async () => {
  const w = await world(5);
  try {
    await open(w);
    await addCustomers(w, 1, 23, '2026-11-01T00:00:00Z');
    // The shop's table becomes unreadable at CS-0012 (the third page): the reader stops there, as in a crash.
    await w.shop.pool.query('create table fail_at (id text)');
    await w.shop.pool.query('alter table customer rename to customer_data');
    await w.shop.pool.query(`create view customer as
      select customer_id, case when exists (select 1 from fail_at f where f.id = c.customer_id) then (1 / (length(c.customer_id) - length(c.customer_id)))::text else firstname end as firstname,
             lastname, mobile_phone, email, updated_at from customer_data c`);
    const importId = await startCareshopSync(context(w), 'admin');
    await w.shop.pool.query("insert into fail_at values ('CS-0012')");
    await rejects(() => readImport(w.store, w.importer.pool, importId, w.options), /division by zero/);
    assert.equal(await receivedIds(w, importId), Array.from({ length: 10 }, (_, i) => `CS-${String(i + 1).padStart(4, '0')}`), 'stopped after two pages');
    assert.is((await getImport(w.importer.pool, importId))!.totalRows, null, 'not read to its end');
    await w.shop.pool.query('delete from fail_at');
    await readImport(w.store, w.importer.pool, importId, w.options);
    await stepUntilFinished(w.processor, w.importer.pool, importId);
    const ids = await receivedIds(w, importId);
    assert.equal(ids, Array.from({ length: 23 }, (_, i) => `CS-${String(i + 1).padStart(4, '0')}`));
    const view = (await getImport(w.importer.pool, importId))!;
    assert.equal([view.totalRows, view.importedRows], [23, 23]);
  } finally {
    await drop(w);
  }
});

test('careshop sync › a page reads about a page of the shop table, even when every record shares one updated_at (a table syncs in its length, not its square)', async () => {
  const w = await world(500);
  try {
    // As `careos careshop seed` writes them: one transaction, one updated_at for every record.
    await w.shop.pool.query(
      `insert into customer (customer_id, firstname, lastname, mobile_phone, updated_at)
       select 'CS-' || lpad(i::text, 6, '0'), 'First' || i, 'Last' || i, '081' || lpad(i::text, 7, '0'), '2026-11-01T00:00:00Z'
         from generate_series(1, 20000) i`,
    );
    await w.shop.pool.query('analyze customer');
    const read = await rowsScanned(w.shop.pool, 'customer', pageSql(w.location), ['2026-11-01T00:00:00Z', 'CS-010000', '2026-11-30T00:00:00Z', 500]);
    assert.ok(read <= 500, `the page read ${read} records of the table to return 500`);
    const page = await w.shop.pool.query<{ customer_id: string }>(pageSql(w.location), ['2026-11-01T00:00:00Z', 'CS-010000', '2026-11-30T00:00:00Z', 3]);
    assert.equal(page.rows.map((r) => r.customer_id), ['CS-010001', 'CS-010002', 'CS-010003'], 'right after the last record read, in id order');
  } finally {
    await drop(w);
  }
});



test.run();