// careos verify: every read model rebuilt aside from the events and compared with the live one.
// Untouched read models match; a hand edit of one row is found in that table only, and the live
// tables are left as they were.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PostgresEventStore } from '../services/eventstore/postgres.ts';
import { readImport, startImport } from '../services/importer/reader.ts';
import { Processor } from '../services/processor/run.ts';
import { migrateProcessor } from '../services/processor/processor-store.ts';
import { createTestDatabase, openOlderTransaction, type TestDatabase } from '../test/support/db.ts';
import { writeNanaFile } from '../test/support/files.ts';
import { stepUntilFinished } from '../test/support/steps.ts';
import { migrateProjections } from './runner.ts';
import { SCRATCH_SCHEMA, verifyReadModels } from './verify.ts';

/**
 * A generated Nana file of `rows` rows read into the store of a fresh database; `beforeDeciding`
 * runs before the processor decides it all.
 */
async function imported(db: TestDatabase, work: string, rows: number, beforeDeciding?: () => Promise<void>): Promise<PostgresEventStore> {
  const file = path.join(work, 'nana.csv');
  writeNanaFile(file, rows, { duplicateEvery: 9 });
  const store = await PostgresEventStore.create(db.pool);
  await migrateProcessor(db.pool);
  await migrateProjections(db.pool);
  const options = { dataDir: work, maxFileBytes: 1 << 30, batchRows: 50, careshop: null };
  const importId = await startImport(store, { filePath: file, fileName: 'nana.csv', source: 'nana', by: 'tester' }, options, db.pool);
  await readImport(store, db.pool, importId, options);
  await beforeDeciding?.();
  const processor = new Processor(store, db.pool, { batchSize: 30 });
  await stepUntilFinished(processor, db.pool, importId);
  await processor.close();
  return store;
}

test('verify › read models projected by the processor match a rebuild from the events; a hand-edited row is found in its table alone', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-verify-'));
  const db = await createTestDatabase();
  try {
    const store = await imported(db, work, 200);

    const clean = await verifyReadModels(store, db.pool, db.url);
    assert.ok(clean.same, JSON.stringify(clean.tables.filter((t) => !t.same)));
    const profiles = clean.tables.find((t) => t.table === 'profile')!;
    assert.ok(profiles.live.rows > 150 && profiles.live.checksum !== '', 'the tables compared hold the import');
    assert.ok(clean.tables.find((t) => t.table === 'error_log')!.live.rows > 0, 'rejected rows too');

    await db.pool.query("update profile set firstname = 'Edited' where careos_id = (select careos_id from profile order by careos_id limit 1)");
    const edited = await verifyReadModels(store, db.pool, db.url);
    assert.is(edited.same, false);
    assert.equal(edited.tables.filter((t) => !t.same).map((t) => t.table), ['profile']);
    const profile = edited.tables.find((t) => t.table === 'profile')!;
    assert.is(profile.live.rows, profile.rebuilt.rows, 'same count, other content');
    const { rows } = await db.pool.query("select count(*)::int as n from profile where firstname = 'Edited'");
    assert.is(rows[0].n, 1, 'the live table is left as it was');
    const { rows: schemas } = await db.pool.query('select count(*)::int as n from pg_namespace where nspname = $1', [SCRATCH_SCHEMA]);
    assert.is(schemas[0].n, 0, 'the scratch schema is gone');
  } finally {
    await db.drop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('verify › waits for a transaction older than the processor\'s last commits to end, rather than report its decisions missing', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-verify-'));
  const db = await createTestDatabase();
  const held: { older?: { end(): Promise<void> } } = {};
  try {
    // Opened before the processor commits anything: none of its decisions shows in $all until it ends.
    const store = await imported(db, work, 60, async () => {
      held.older = await openOlderTransaction(db);
    });
    assert.is((await store.readAll({ commit: 0n, prepare: 0n }, { maxCount: 1000, types: ['ProfileCreated'] })).events.length, 0, 'the decisions are hidden');

    let ended = false;
    const ending = new Promise<void>((resolve) => setTimeout(() => { ended = true; void held.older!.end().then(resolve); }, 300));
    const result = await verifyReadModels(store, db.pool, db.url);
    const answeredAfterEnd = ended;
    await ending;
    assert.ok(answeredAfterEnd, 'verify answered only after the older transaction ended');
    assert.ok(result.same, JSON.stringify(result.tables.filter((t) => !t.same)));
  } finally {
    await held.older?.end();
    await db.drop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test.run();
