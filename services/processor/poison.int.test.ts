// No poison event: an event the processor cannot apply becomes that row's rejection, with the
// reason, and the processor goes on. Rows appended straight to the store (past every door) with a
// value PostgreSQL cannot store, and a row the read models refuse although it passed every check
// (a check constraint stands in for a limit no check knows), with the PostgreSQL store and with
// the EventStoreDB order (append, then commit): each time the import ends with its counts adding
// up, the next import ends too, and the read models equal a rebuild from the events.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventId } from '../events/ids.ts';
import { streams, type EventMetadata, type RowReason } from '../events/types.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import type { EventStore } from '../eventstore/types.ts';
import { readImport, startImport, type ReaderOptions } from '../importer/reader.ts';
import { withTransaction } from '../db/pool.ts';
import { errorsOf } from '../../projections/error-log.ts';
import { getImport } from '../../projections/import-log.ts';
import { migrateProjections } from '../../projections/runner.ts';
import { verifyReadModels } from '../../projections/verify.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { stepUntilFinished } from '../../test/support/steps.ts';
import { migrateProcessor } from './processor-store.ts';
import { Processor } from './run.ts';

const NANA_HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
const COLUMNS = NANA_HEADER.split(',');
/** A stuck processor fails the test in this time rather than hang it. */
const STUCK_MS = 30_000;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-poison-'));
let files = 0;

interface World {
  db: TestDatabase;
  store: EventStore;
  options: ReaderOptions;
  processor: Processor;
  /** The processor's errors (each a step that threw). */
  errors: string[];
}

/**
 * A fresh database. `appendFirst`: the store appends in a transaction of its own and the
 * processor's commit runs after it, in another, as with EventStoreDB (whose kind it reports).
 */
async function world(appendFirst = false): Promise<World> {
  const db = await createTestDatabase();
  const postgres = await PostgresEventStore.create(db.pool);
  await migrateProcessor(db.pool);
  await migrateProjections(db.pool);
  let store: EventStore = postgres;
  if (appendFirst) {
    store = Object.create(postgres, { kind: { value: 'eventstoredb' } }) as EventStore;
    store.appendMany = async (appends, commit) => {
      const results = await postgres.appendMany(appends);
      if (commit) await withTransaction(db.pool, (client) => commit(client, results));
      return results;
    };
  }
  const options: ReaderOptions = { dataDir: work, maxFileBytes: 1 << 30, batchRows: 50, careshop: null };
  return { db, store, options, processor: new Processor(store, db.pool, { batchSize: 4 }), errors: [] };
}

function writeFile(content: string): string {
  const file = path.join(work, `file-${++files}.csv`);
  fs.writeFileSync(file, content);
  return file;
}

/** Runs the processor until the import is no longer In progress (or fails after STUCK_MS). */
async function finish(w: World, importId: string) {
  await stepUntilFinished(w.processor, w.db.pool, importId, (error) => w.errors.push(error.message), STUCK_MS);
  await w.processor.flush();
  const view = await getImport(w.db.pool, importId);
  assert.ok(view, 'the import is in the import log');
  return view!;
}

/** Reads a generated Nana file as a new import and runs it to its end. */
async function importFile(w: World, file: string) {
  const importId = await startImport(w.store, { filePath: file, fileName: path.basename(file), source: 'nana', by: 'tester' }, w.options, w.db.pool);
  await readImport(w.store, w.db.pool, importId, w.options);
  return { importId, view: await finish(w, importId) };
}

/** The next import ends (Success: ten valid rows with phones of their own), and the read models equal a rebuild. */
async function nextImportAndVerify(w: World): Promise<void> {
  const file = path.join(work, `next-${++files}.csv`);
  writeNanaFile(file, 10);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/,08(\d{8}),/g, ',06$1,')); // phones unlike any earlier file's
  const next = await importFile(w, file);
  assert.equal([next.view.status, next.view.importedRows, next.view.rejectedRows], ['Success', 10, 0], 'the next import ends');
  const verified = await verifyReadModels(w.store, w.db.pool, w.db.url);
  assert.ok(verified.same, `read models differ from a rebuild: ${JSON.stringify(verified.tables.filter((t) => !t.same))}`);
}

function reasonsOf(errors: Awaited<ReturnType<typeof errorsOf>>, row: number): RowReason[] {
  const error = errors.find((e) => e.row === row);
  assert.ok(error, `row ${row} is in the error log`);
  return error!.reasons;
}

test('poison › rows appended straight to the store with a NUL, with a lone surrogate, and one that does not match its schema are rejected with the reason, the import ends with its counts adding up, so does the next one, and the read models equal a rebuild', async () => {
  const w = await world();
  try {
    // The import starts as any does; its rows are appended by hand, past the doors.
    const importId = await startImport(w.store, { filePath: writeFile(`${NANA_HEADER}\n`), fileName: 'direct.csv', source: 'nana', by: 'tester' }, w.options, w.db.pool);
    const rows: Record<string, string>[] = [
      { firstname: 'Kanya', lastname: 'Rattanakul', phone: '0899990001', nana_cus_id: 'd1' },
      { firstname: 'Nul\u0000Byte', lastname: 'Jaidee', phone: '0899990002', nana_cus_id: 'd2' },
      { firstname: 'Malee', lastname: 'Half\ud83d', phone: '0899990003', nana_cus_id: 'd3' },
      { firstname: 'Wichai', lastname: 'Boonmee', phone: '0899990004', nana_cus_id: 'd4' },
      { firstname: 42 as unknown as string, lastname: 'Number', phone: '0899990005', nana_cus_id: 'd5' },
    ];
    const at = new Date().toISOString();
    await w.store.append({
      streamId: streams.import(importId), expectedRevision: 0n,
      events: [
        ...rows.map((values, i) => {
          const row = i + 1;
          const record = Object.fromEntries(COLUMNS.map((column) => [column, values[column] ?? '']));
          const metadata: EventMetadata = { by: 'tester', at, importId, row, v: 2 };
          return { id: eventId(importId, row, 'received'), type: 'RowReceived', data: { importId, source: 'nana', row, record }, metadata };
        }),
        { id: eventId(importId, 0, 'file-read'), type: 'ImportFileRead', data: { importId, totalRows: rows.length }, metadata: { by: 'tester', at, importId, v: 1 } },
      ],
    });

    const view = await finish(w, importId);
    assert.equal([view.status, view.totalRows, view.importedRows, view.rejectedRows, view.skippedRows], ['Failed', 5, 2, 3, 0], `errors: ${w.errors.join(' | ')}`);
    const errors = await errorsOf(w.db.pool, importId);
    assert.equal(errors.map((e) => e.row), [2, 3, 5]);
    const [nul] = reasonsOf(errors, 2);
    assert.equal([nul!.field, nul!.code], ['firstname', 'unstorable']);
    assert.match(nul!.message, 'firstname "Nul\\u0000Byte" holds a NUL character (U+0000');
    assert.is(errors[0]!.record.firstname, 'Nul\uFFFDByte', 'the error log shows the row, U+FFFD for the NUL');
    const [lone] = reasonsOf(errors, 3);
    assert.equal([lone!.field, lone!.code], ['lastname', 'unstorable']);
    assert.match(lone!.message, 'lastname "Half\\ud83d" holds half of a UTF-16 surrogate pair (U+D83D');
    assert.is(errors[1]!.record.lastname, 'Half\uFFFD');
    const [unreadable] = reasonsOf(errors, 5);
    assert.equal([unreadable!.field, unreadable!.code], ['row', 'unreadable']);
    assert.match(unreadable!.message, /^row as stored cannot be read \(event RowReceived does not match its schema: \/record\/firstname must be string\); as stored: /);
    assert.match(errors[2]!.record._raw!, '"firstname":42');
    const [received] = await w.store.readStream(streams.import(importId), { fromRevision: 2n, maxCount: 1 });
    assert.is((received!.data as { record: Record<string, string> }).record.firstname, 'Nul\u0000Byte', 'the RowReceived is left as it was');

    await nextImportAndVerify(w);
  } finally {
    await w.processor.close().catch(() => undefined);
    await w.db.drop();
  }
});

for (const [store, appendFirst] of [['PostgreSQL store', false], ['EventStoreDB order: append, then commit', true]] as const) {
  test(`poison › a row the read models refuse although it passed every check is decided again alone and rejected with PostgreSQL's reason; the rows around it are imported, the import and the next one end, the read models equal a rebuild (${store})`, async () => {
    const w = await world(appendFirst);
    try {
      // Stands in for what no check knows: the profile table refuses one first name.
      await w.db.pool.query(`alter table profile add constraint poison_check check (firstname <> 'Poison')`);
      const file = path.join(work, `refused-${++files}.csv`);
      writeNanaFile(file, 12, { duplicateEvery: 7 }); // row 7 repeats row 5's phone: decided against row 5's commit
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(',First6,', ',Poison,'));
      const { importId, view } = await importFile(w, file);

      assert.equal([view.status, view.totalRows, view.importedRows, view.rejectedRows, view.skippedRows], ['Failed', 12, 10, 2, 0], `errors: ${w.errors.join(' | ')}`);
      assert.is(w.errors.length, 1, `one refusal, then no error: ${w.errors.join(' | ')}`);
      assert.match(w.errors[0]!, /PostgreSQL refused the batch .*violates check constraint "poison_check".*; deciding it again one event per commit/);
      const errors = await errorsOf(w.db.pool, importId);
      assert.equal(errors.map((e) => [e.row, e.reasons.map((r) => r.code)]), [[6, ['unstorable']], [7, ['duplicate-phone']]]);
      const [refused] = reasonsOf(errors, 6);
      assert.is(refused!.field, 'row');
      assert.match(refused!.message, /^the row passed its checks, but PostgreSQL refused to store it: new row for relation "profile" violates check constraint "poison_check" \(SQLSTATE 23514, in profile\)/);
      assert.is(errors[0]!.record.firstname, 'Poison', 'the row as received');
      // Nothing refused was appended: the row's outcome is its rejection alone.
      const outcome = await w.store.readStream(streams.outcome(importId));
      assert.equal(outcome.filter((e) => (e.metadata as EventMetadata).row === 6).map((e) => e.type), ['RowRejected']);

      await nextImportAndVerify(w);
    } finally {
      await w.processor.close().catch(() => undefined);
      await w.db.drop();
    }
  });
}

test('poison › where the batch boundaries fall does not change the outcome: the refused row\'s rejection, its reason and every read model are the same at batch sizes 1, 4 and 50', async () => {
  const file = path.join(work, 'boundaries.csv');
  writeNanaFile(file, 30, { duplicateEvery: 7 });
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(',First6,', ',Poison,').replace(',First23,', ',Poison,'));
  const dumps = [];
  for (const batchSize of [1, 4, 50]) {
    const w = await world();
    try {
      w.processor = new Processor(w.store, w.db.pool, { batchSize });
      await w.db.pool.query(`alter table profile add constraint poison_check check (firstname <> 'Poison')`);
      const { view } = await importFile(w, file);
      assert.equal([view.status, view.totalRows, view.rejectedRows + view.importedRows], ['Failed', 30, 30]);
      dumps.push(await dumpReadModels(w.db.pool));
    } finally {
      await w.processor.close().catch(() => undefined);
      await w.db.drop();
    }
  }
  assert.ok(dumps[0]!.errors.filter((e) => e.includes('"unstorable"')).length === 2, 'rows 6 and 23 are rejected as unstorable');
  assert.equal(dumps[1], dumps[0]);
  assert.equal(dumps[2], dumps[0]);
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));
test.run();
