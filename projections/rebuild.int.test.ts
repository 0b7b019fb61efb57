// Rebuilding the read models, which the processor otherwise projects inline: a rebuild cut short
// is finished before anything is decided again, and it never replays a decision the processor
// did not commit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventId } from '../services/events/ids.ts';
import { streams } from '../services/events/types.ts';
import { PostgresEventStore } from '../services/eventstore/postgres.ts';
import type { EventStore } from '../services/eventstore/types.ts';
import { readImport, startImport } from '../services/importer/reader.ts';
import { Processor } from '../services/processor/run.ts';
import { migrateProcessor } from '../services/processor/processor-store.ts';
import { createTestDatabase, openOlderTransaction, type TestDatabase } from '../test/support/db.ts';
import { dumpReadModels } from '../test/support/dump.ts';
import { writeNanaFile } from '../test/support/files.ts';
import { getImport } from './import-log.ts';
import { ProjectionRunner, migrateProjections } from './runner.ts';
import { stepUntilFinished } from '../test/support/steps.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-rebuild-'));
const file = path.join(work, 'nana.csv');
writeNanaFile(file, 300, { duplicateEvery: 7 });
const options = { dataDir: work, maxFileBytes: 1 << 30, batchRows: 100, careshop: null };

async function imported(before?: (db: TestDatabase) => Promise<void>): Promise<{ db: TestDatabase; store: PostgresEventStore; importId: string }> {
  const db = await createTestDatabase();
  const store = await PostgresEventStore.create(db.pool);
  await migrateProcessor(db.pool);
  await migrateProjections(db.pool);
  const importId = await startImport(store, { filePath: file, fileName: 'nana.csv', source: 'nana', by: 'tester' }, options, db.pool);
  await readImport(store, db.pool, importId, options);
  await before?.(db);
  const processor = new Processor(store, db.pool, { batchSize: 50 });
  await stepUntilFinished(processor, db.pool, importId);
  await processor.close();
  return { db, store, importId };
}

test('import log › lists an import as In progress from the moment it starts, before anything is decided', async () => {
  const db = await createTestDatabase();
  try {
    const store = await PostgresEventStore.create(db.pool);
    await migrateProcessor(db.pool);
    await migrateProjections(db.pool);
    const importId = await startImport(store, { filePath: file, fileName: 'nana.csv', source: 'nana', by: 'tester' }, options, db.pool);
    const view = await getImport(db.pool, importId);
    assert.equal([view?.status, view?.fileName, view?.importedBy, view?.totalRows], ['In progress', 'nana.csv', 'tester', null]);
    await readImport(store, db.pool, importId, options);
    assert.is((await getImport(db.pool, importId))?.totalRows, 300, 'the file read to its end is logged at once too');
  } finally {
    await db.drop();
  }
});

test('rebuild › gives the read models the processor projected; a rebuild cut short is logged failed, finished before deciding, then logged done after the restart', async () => {
  const { db, store } = await imported();
  try {
    const before = await dumpReadModels(db.pool);
    assert.is(before.imports.length, 1);
    // A rebuild whose replay dies after the read models were dropped.
    let reads = 0;
    const dying: EventStore = Object.create(store);
    dying.readAll = (after, readOptions) => (++reads > 2 ? Promise.reject(new Error('killed')) : store.readAll(after, readOptions));
    const runner = new ProjectionRunner(dying, db.pool, undefined, 100);
    try {
      await runner.rebuild('tester');
      assert.unreachable('the replay should die');
    } catch (error) {
      assert.is((error as Error).message, 'killed');
    }
    assert.not.equal(await dumpReadModels(db.pool), before, 'the read models are half rebuilt');
    const [failed] = await ProjectionRunner.history(db.pool);
    assert.equal([failed?.state, failed?.startedBy, failed?.error, failed?.finishedAfterRestart], ['failed', 'tester', 'killed', false], 'logged as failed, with why');
    assert.ok(failed!.finishedAt !== null && failed!.applied > 0, 'with when, and the events it had applied');
    // What the processor thread does first when it starts.
    const restart = new ProjectionRunner(store, db.pool);
    assert.is(await restart.finishRebuild(), true);
    assert.equal(await dumpReadModels(db.pool), before);
    const [finished, ...older] = await ProjectionRunner.history(db.pool);
    assert.equal(older, [], 'the same rebuild, not a second one');
    assert.equal([finished?.id, finished?.state, finished?.error, finished?.finishedAfterRestart], [failed!.id, 'done', 'killed', true], 'finished by the next start; why it failed is kept');
    assert.is(finished!.applied, failed!.applied + restart.applied, 'the events both runs applied');
    assert.is(await new ProjectionRunner(store, db.pool).finishRebuild(), false, 'nothing left to finish');
  } finally {
    await db.drop();
  }
});

test('rebuild › does not replay an outcome appended after the processor last committed (append-then-commit stores)', async () => {
  const { db, store, importId } = await imported();
  try {
    const before = await dumpReadModels(db.pool);
    // As with EventStoreDB after a crash between the outcome append and the commit.
    const revision = await store.streamRevision(streams.outcome(importId));
    await store.append({
      streamId: streams.outcome(importId),
      expectedRevision: revision!,
      events: [{
        id: eventId(importId, 301, 'rejected'), type: 'RowRejected',
        data: { importId, source: 'nana', row: 301, record: { nana_cus_id: 'n301' }, reasons: [{ field: 'phone', code: 'required', message: 'phone is required' }] },
        metadata: { by: 'tester', at: new Date().toISOString(), importId, row: 301, v: 1 },
      }],
    });
    const runner = new ProjectionRunner(store, db.pool);
    await runner.rebuild('tester');
    assert.equal(await dumpReadModels(db.pool), before);
    const [logged] = await ProjectionRunner.history(db.pool);
    assert.equal([logged?.state, logged?.startedBy, logged?.applied, logged?.error, logged?.finishedAfterRestart], ['done', 'tester', runner.applied, null, false], 'a rebuild is logged: who, how many events, done in one run');
    assert.ok(Date.parse(logged!.finishedAt!) >= Date.parse(logged!.startedAt));
  } finally {
    await db.drop();
  }
});

test('rebuild › replays up to the processor\'s last commits even while an older transaction hides them, then ends', async () => {
  const held: { older?: { end(): Promise<void> } } = {};
  const { db, store } = await imported(async (opened) => {
    held.older = await openOlderTransaction(opened);
  });
  try {
    const before = await dumpReadModels(db.pool);
    assert.match(before.imports[0] ?? '', /^nana.csv\|nana\|Failed\|300\|/, 'the import finished, some rows rejected');
    assert.is((await store.readAll({ commit: 0n, prepare: 0n }, { maxCount: 1000, types: ['ProfileCreated'] })).events.length, 0, 'the decisions are hidden');
    let ended = false;
    const ending = new Promise<void>((resolve) => setTimeout(() => { ended = true; void held.older!.end().then(resolve); }, 300));
    await new ProjectionRunner(store, db.pool).rebuild('tester');
    const rebuiltAfterEnd = ended;
    await ending;
    assert.ok(rebuiltAfterEnd, 'the rebuild ended only after the older transaction did');
    assert.equal(await dumpReadModels(db.pool), before, 'no decision lost');
  } finally {
    await held.older?.end();
    await db.drop();
  }
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));
test.run();
